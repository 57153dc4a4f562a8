using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// Default (unscaled) RoPE as in transformers: inv_freq = 1/θ^(2i/d), cos/sin of position·inv_freq computed in
/// fp32 and cast to the activation dtype; applied with rotate_half (non-interleaved halves).
/// Not a module: it has no state-dict entries (HF's inv_freq buffer is non-persistent).
/// </summary>
public sealed class RotaryEmbedding(int headDim, double theta)
{
    public int HeadDim { get; } = headDim;
    public double Theta { get; } = theta;

    /// <summary>cos, sin of shape (T, headDim) in <paramref name="dtype"/> for positions 0..T-1.</summary>
    public (Tensor Cos, Tensor Sin) Compute(long seqLen, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var exponent = arange(0, HeadDim, 2, ScalarType.Int64, device).to(ScalarType.Float32) / HeadDim; // (d/2)
        var invFreq = pow(Theta, exponent).reciprocal();                                               // (d/2) fp32
        var positions = arange(seqLen, ScalarType.Float32, device);                                     // (T)
        var freqs = outer(positions, invFreq);                                                          // (T, d/2)
        var emb = cat([freqs, freqs], -1);                                                              // (T, d)
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>x (B, heads, T, d) rotated: x·cos + rotate_half(x)·sin.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);                                 // (B, h, T, d/2)
        var x2 = x.narrow(-1, half, half);                              // (B, h, T, d/2)
        var rotated = cat([x2.neg(), x1], -1);                          // (B, h, T, d)
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();     // (B, h, T, d)
    }
}
