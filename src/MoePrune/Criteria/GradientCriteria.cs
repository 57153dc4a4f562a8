using MoePrune.Criteria.Statistics;
using TorchSharp;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Criteria;

/// <summary>
/// The gradient-guided criteria, from each expert's accumulated gradient W^g_p = [∂gate | ∂up | ∂down]
/// (gate/up (I, H), down (H, I), summed over the AccumulateGradients calls).
/// </summary>
public static class GradientCriteria
{
    public static double[] Score(CriterionKind kind, LayerStats stats)
    {
        var s = stats.Find<GradientSums>(GradientSums.Kind);
        if (s is not { HasValues: true })
            throw new MoePruneException($"criterion {CriterionInfo.Name(kind)}: layer {stats.LayerIndex} statistics have no gradients; call AccumulateGradients after backward()");
        using var scope = torch.NewDisposeScope();
        int n = s.NumExperts;
        return kind switch
        {
            CriterionKind.Egs => ExpertGram.SimilaritySums(ExpertGram.Compute(n, [s.Sums![0].LongLength],
                (e, _, start, length) => torch.tensor(s.Sums![e].AsSpan((int)start, (int)length).ToArray()))),
            CriterionKind.Egn => Each(n, e => Flat(s, e).to(ScalarType.Float64).norm().item<double>()),
            CriterionKind.Ege => Each(n, e => Entropy(s, e)),
            CriterionKind.Ego => Each(n, e => Outliers(s, e)),
            _ => throw new ArgumentException($"{kind} is not a gradient criterion"),
        };
    }

    /// <summary>(3·I·H) the expert's accumulated gradient, fp32.</summary>
    private static Tensor Flat(GradientSums s, int e) => torch.tensor(s.Sums![e]);

    /// <summary>
    /// EGE: Σ_j log max(σ_j, floor) over hidden units j, σ_j the population std of the 3·I gradient
    /// entries that touch hidden unit j (column j of ∂gate and ∂up, row j of ∂down).
    /// </summary>
    private static double Entropy(GradientSums s, int e)
    {
        long i = s.IntermediateSize, h = s.HiddenSize;
        var g = Flat(s, e).to(ScalarType.Float64);                                          // (3·I·H)
        var gate = g[..(int)(i * h)].reshape(i, h);                                         // (I, H)
        var up = g[(int)(i * h)..(int)(2 * i * h)].reshape(i, h);                           // (I, H)
        var down = g[(int)(2 * i * h)..].reshape(h, i).t();                                 // (I, H) transposed from (H, I)
        var std = torch.cat([gate, up, down]).std(0L, unbiased: false);                      // (H) per hidden unit
        return std.clamp_min(Scalars.Of(StatsCriteria.StdFloor)).log().sum().item<double>();
    }

    /// <summary>EGO: entries of W^g_p outside μ ± 3σ, μ and σ (population) over all of W^g_p's entries.</summary>
    private static double Outliers(GradientSums s, int e)
    {
        var g = Flat(s, e).to(ScalarType.Float64);                                          // (3·I·H)
        var mu = g.mean();                                                                   // () mean of all entries
        var sigma = g.std(unbiased: false);                                                  // () population std of all entries
        return (g - mu).abs().gt(sigma * Scalars.Of(3)).sum().item<long>();
    }

    private static double[] Each(int n, Func<int, double> f) => Enumerable.Range(0, n).Select(f).ToArray();
}
