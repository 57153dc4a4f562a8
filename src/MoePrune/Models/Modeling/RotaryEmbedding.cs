using TorchSharp;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>
/// RoPE as in transformers: inv_freq = 1/θ^(2i/d) (default) or YaRN's blend of it with inv_freq/factor
/// (<see cref="YarnScaling"/>), cos/sin of position·inv_freq computed in fp32 (YaRN: times its attention factor) and
/// cast to the activation dtype; applied with rotate_half (non-interleaved halves) to <see cref="HeadDim"/> features.
/// Built by the family's attention factory from the config; a value (two equal rotaries share their tables within a
/// forward, see <see cref="PositionEmbeddings"/>). Not a module: it has no state-dict entries (HF's inv_freq buffer
/// is non-persistent). MLA rotates its rope features only, GLM the first partial_rotary_factor of each head.
/// </summary>
/// <param name="HeadDim">Features rotated per head (head_dim, MLA's qk_rope_head_dim or GLM's partial width).</param>
public sealed record RotaryEmbedding(int HeadDim, double Theta, YarnScaling? Yarn = null)
{
    /// <summary>The rotary of a config: <see cref="MoeConfig.RotaryDim"/> wide, base rope_theta, YaRN when configured.</summary>
    public static RotaryEmbedding FromConfig(MoeConfig config) => new(config.RotaryDim, config.RopeTheta, config.Yarn);

    /// <summary>
    /// cos, sin in <paramref name="dtype"/> for int64 positions (T) → (T, d) each, or (B, T) → (B, 1, T, d) each
    /// (broadcast over heads).
    /// </summary>
    public (Tensor Cos, Tensor Sin) Compute(Tensor positions, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var exponent = arange(Scalars.Of(0), Scalars.Of(HeadDim), Scalars.Of(2), ScalarType.Int64, positions.device).to(ScalarType.Float32) / Scalars.Of(HeadDim); // (d/2)
        var invFreq = pow(Theta, exponent).reciprocal();                                                         // (d/2) fp32
        if (Yarn is not null) invFreq = YarnInverseFrequencies(pow(Theta, exponent));                            // (d/2) fp32
        // python: freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
        var freqs = positions.to(ScalarType.Float32).unsqueeze(-1) * invFreq;                                    // (…, T, d/2)
        var emb = cat([freqs, freqs], -1);                                                                        // (…, T, d)
        if (positions.dim() == 2) emb = emb.unsqueeze(1);                                                         // (B, 1, T, d)
        var (cos, sin) = (emb.cos(), emb.sin());                                                                  // (…, T, d) fp32
        if (Yarn is not null && Yarn.CosSinFactor != 1.0)
        {
            using var factor = Yarn.CosSinFactor.ToScalar();                                                      // explicit: see Native/Scalars.cs
            (cos, sin) = (cos * factor, sin * factor);                                                            // python: cos = emb.cos() * attention_scaling
        }
        return (cos.to(dtype).MoveToOuterDisposeScope(), sin.to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>YaRN: inverse frequencies interpolated (÷ factor) below the correction range, kept above it, blended inside. (d/2) fp32</summary>
    private Tensor YarnInverseFrequencies(Tensor posFreqs)
    {
        var yarn = Yarn!;
        var (low, high) = yarn.CorrectionRange(HeadDim, Theta);
        using var factor = yarn.Factor.ToScalar();                                                                 // explicit Scalars: see Native/Scalars.cs
        using var lowScalar = low.ToScalar();
        using var width = (high - low).ToScalar();
        using var zero = 0.0.ToScalar();
        using var one = 1.0.ToScalar();
        var extrapolation = posFreqs.reciprocal();                                                                 // (d/2) 1/θ^(2j/d)
        var interpolation = (posFreqs * factor).reciprocal();                                                      // (d/2)
        var ramp = ((arange(Scalars.Of(HeadDim / 2), ScalarType.Float32, posFreqs.device) - lowScalar) / width).clamp(zero, one); // (d/2)
        var keep = one - ramp;                                                                                     // (d/2) 1 = extrapolate
        // python: inv_freq = inv_freq_interpolation * (1 - extrapolation_factor) + inv_freq_extrapolation * extrapolation_factor
        return interpolation * (one - keep) + extrapolation * keep;
    }

    /// <summary>
    /// Adjacent pairs to halves: (B, h, T, d) (x0, x1, x2, x3, …) → (x0, x2, …, x1, x3, …), so that rotate_half rotates the
    /// pairs (2j, 2j + 1) that DeepSeek-V2's complex RoPE and V3's <c>rope_interleave</c> rotate.
    /// </summary>
    public static Tensor Deinterleave(Tensor x)
    {
        long d = x.shape[^1];
        long[] pairs = [.. x.shape[..^1], d / 2, 2];
        return x.reshape(pairs).transpose(-1, -2).reshape(x.shape);                                               // (…, d)
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
