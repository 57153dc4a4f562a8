using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>
/// Default (unscaled) RoPE as in transformers: inv_freq = 1/θ^(2i/d), cos/sin of position·inv_freq computed in
/// fp32 and cast to the activation dtype; applied with rotate_half (non-interleaved halves). Built by the
/// family's attention factory from the config; a value (two equal rotaries share their tables within a forward,
/// see <see cref="PositionEmbeddings"/>). Not a module: it has no state-dict entries (HF's inv_freq buffer is
/// non-persistent). Scaled variants (YaRN) and MLA's rope-only head slice are other rotaries built the same way.
/// </summary>
public sealed record RotaryEmbedding(int HeadDim, double Theta)
{
    /// <summary>The default rotary of a config: head_dim wide, base rope_theta.</summary>
    public static RotaryEmbedding FromConfig(MoeConfig config) => new(config.HeadDim, config.RopeTheta);

    /// <summary>
    /// cos, sin in <paramref name="dtype"/> for int64 positions (T) → (T, d) each, or (B, T) → (B, 1, T, d) each
    /// (broadcast over heads).
    /// </summary>
    public (Tensor Cos, Tensor Sin) Compute(Tensor positions, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var exponent = arange(Scalars.Of(0), Scalars.Of(HeadDim), Scalars.Of(2), ScalarType.Int64, positions.device).to(ScalarType.Float32) / Scalars.Of(HeadDim); // (d/2)
        var invFreq = pow(Theta, exponent).reciprocal();                                                         // (d/2) fp32
        // python: freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
        var freqs = positions.to(ScalarType.Float32).unsqueeze(-1) * invFreq;                                    // (…, T, d/2)
        var emb = cat([freqs, freqs], -1);                                                                        // (…, T, d)
        if (positions.dim() == 2) emb = emb.unsqueeze(1);                                                         // (B, 1, T, d)
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>x (B, heads, T, d) rotated: x·cos + rotate_half(x)·sin, with cos/sin (T, d) or (B, 1, T, d).</summary>
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
