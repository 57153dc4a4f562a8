using System.Text.Json.Nodes;

namespace MoePrune.Models;

/// <summary>
/// YaRN RoPE scaling (<c>rope_scaling</c> / v5 <c>rope_parameters</c> with type "yarn"), as DeepSeek's code and
/// transformers' <c>_compute_yarn_parameters</c> compute it: inv_freq = interp·(1 − e) + extrap·e with extrap = θ^(−2j/d),
/// interp = extrap / factor and e = 1 − clamp((j − low) / (high − low), 0, 1), where low = ⌊d·ln(orig / (β_fast·2π)) / (2 ln θ)⌋
/// and high = ⌈same with β_slow⌉ clamped to [0, d − 1]; cos and sin are multiplied by <see cref="CosSinFactor"/>.
/// MLA also multiplies its softmax scale by <see cref="SoftmaxScaleFactor"/>.
/// </summary>
public sealed record YarnScaling(double Factor, int OriginalMaxPositions, double BetaFast, double BetaSlow,
                                 double? Mscale, double? MscaleAllDim, double? AttentionFactor)
{
    /// <summary>YaRN's magnitude correction: 0.1·m·ln(s) + 1 for s &gt; 1, else 1.</summary>
    public static double MagnitudeScale(double scale, double m = 1.0) => scale <= 1 ? 1.0 : 0.1 * m * Math.Log(scale) + 1.0;

    /// <summary>
    /// The cos/sin multiplier: <c>attention_factor</c> when given, else mscale(f, mscale)/mscale(f, mscale_all_dim) when
    /// both are set and non-zero (1.0 for every published DeepSeek/Kimi config), else mscale(f).
    /// </summary>
    public double CosSinFactor =>
        AttentionFactor ?? (Mscale is double m && m != 0 && MscaleAllDim is double all && all != 0
            ? MagnitudeScale(Factor, m) / MagnitudeScale(Factor, all)
            : MagnitudeScale(Factor));

    /// <summary>MLA's softmax-scale factor mscale(factor, mscale_all_dim)² (1 without <c>mscale_all_dim</c>).</summary>
    public double SoftmaxScaleFactor =>
        MscaleAllDim is double all && all != 0 ? Math.Pow(MagnitudeScale(Factor, all), 2) : 1.0;

    /// <summary>
    /// Binds the rope-scaling object <paramref name="scaling"/> (already known to be of type yarn). transformers v5 replaces
    /// <c>factor</c> by max_position_embeddings / original_max_position_embeddings where the latter is given, DeepSeek's own
    /// code uses <c>factor</c>: the two agree on every published config, and a config where they differ is refused.
    /// </summary>
    public static YarnScaling Parse(JsonObject scaling, string source, int? maxPositionEmbeddings)
    {
        var c = new ConfigReader(scaling, source);
        if (!c.Has("factor")) throw c.Missing("factor");
        double factor = c.Double("factor", 0);
        if (!(factor >= 1)) throw c.Unsupported("factor", "YaRN needs a factor of at least 1");
        if (!c.Bool("truncate", true)) throw c.Unsupported("truncate", "only the truncated correction range is implemented");
        int? orig = c.OptionalInt("original_max_position_embeddings");
        if (orig is int o && maxPositionEmbeddings is int max && Math.Abs((double)max / o - factor) > 1e-9 * factor)
            throw c.Unsupported("factor", $"max_position_embeddings / original_max_position_embeddings = {max} / {o} differs from it; "
                                          + "transformers scales by that ratio, DeepSeek's code by factor");
        int originalMax = orig ?? maxPositionEmbeddings
                          ?? throw new MoePruneException($"{source}: YaRN needs original_max_position_embeddings or max_position_embeddings");
        if (originalMax < 1) throw c.Unsupported("original_max_position_embeddings", "must be positive");
        // python: beta_fast = rope_parameters.get("beta_fast") or 32 (None and 0 both fall back)
        double betaFast = c.Double("beta_fast", 0) is var bf && bf != 0 ? bf : 32;
        double betaSlow = c.Double("beta_slow", 0) is var bs && bs != 0 ? bs : 1;
        return new YarnScaling(factor, originalMax, betaFast, betaSlow,
                               c.OptionalDouble("mscale"), c.OptionalDouble("mscale_all_dim"), c.OptionalDouble("attention_factor"));
    }

    /// <summary>The correction range [low, high] of a rotary of <paramref name="dim"/> features and base <paramref name="theta"/>.</summary>
    public (double Low, double High) CorrectionRange(int dim, double theta)
    {
        double CorrectionDim(double rotations) => dim * Math.Log(OriginalMaxPositions / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = Math.Max(Math.Floor(CorrectionDim(BetaFast)), 0);
        double high = Math.Min(Math.Ceiling(CorrectionDim(BetaSlow)), dim - 1);
        if (low == high) high += 0.001;                                  // python: prevent a singular ramp
        return (low, high);
    }
}
