using MoePrune.Criteria.Statistics;
using MoePrune.Observation;

namespace MoePrune.Criteria;

/// <summary>
/// Computes a criterion's per-layer, per-expert values: from the layer views for the criteria that read no
/// statistics (weight criteria, random), from <see cref="CriteriaStats"/> for the others
/// (<see cref="CriterionInfo.Needs"/>). A subset selector (naee) has no per-expert values.
/// </summary>
public static class CriteriaScorer
{
    /// <param name="stats">Calibration statistics (required when the criterion reads statistics).</param>
    /// <param name="views">One view per MoE layer (required for the criteria that read weights).</param>
    /// <param name="seed">Seed of the random baseline.</param>
    public static CriterionScores Score(CriterionSpec spec, CriteriaStats? stats, IReadOnlyList<IMoeLayerView>? views, int seed = 0)
    {
        var kind = spec.Kind;
        var needs = spec.Needs;
        if (needs.SelectsSubsets)
            throw new MoePruneException($"criterion {spec.Name}: selects subsets of experts and has no per-expert values");
        var result = new CriterionScores
        {
            Spec = spec,
            Drops = CriterionInfo.IsPair(kind) ? DropDirection.Min : spec.Direction,
        };
        if (kind == CriterionKind.Random)
        {
            // only the layer shapes are read: from the views, or from the statistics when no views are given
            var shapes = views?.Select(v => (v.LayerIndex, v.TopK, v.NumExperts))
                ?? stats?.Layers.Values.Select(s => (s.LayerIndex, s.TopK, s.NumExperts))
                ?? throw new MoePruneException($"criterion {spec.Name}: needs the model's MoE layers");
            foreach (var (layer, topK, experts) in shapes)
                result.Layers[layer] = new LayerScores(layer, topK, RandomValues(seed, layer, experts));
            return result;
        }
        if (!needs.ReadsStatistics)
        {
            if (views is null || views.Count == 0)
                throw new MoePruneException($"criterion {spec.Name}: needs the model's MoE layers");
            foreach (var v in views)
                result.Layers[v.LayerIndex] = new LayerScores(v.LayerIndex, v.TopK, WeightCriteria.Score(kind, v));
            return result;
        }
        if (stats is null || stats.Layers.Count == 0)
            throw new MoePruneException($"criterion {spec.Name}: needs calibration statistics, none were given");
        foreach (var (index, s) in stats.Layers)
        {
            double[] values = needs.Gradients ? GradientCriteria.Score(kind, s) : StatsCriteria.Score(kind, s, spec.Direction);
            result.Layers[index] = new LayerScores(index, s.TopK, values);
        }
        return result;
    }

    /// <summary>Random baseline: uniform [0, 1) values from a generator seeded by (seed, layer).</summary>
    public static double[] RandomValues(int seed, int layer, int numExperts)
    {
        var rng = new Random(unchecked(seed * 1_000_003 + layer));
        return Enumerable.Range(0, numExperts).Select(_ => rng.NextDouble()).ToArray();
    }
}
