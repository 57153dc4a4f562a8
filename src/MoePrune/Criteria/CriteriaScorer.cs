using MoePrune.Observation;

namespace MoePrune.Criteria;

/// <summary>
/// Computes a criterion's per-layer, per-expert values. Weight criteria read the layer views; the others
/// read <see cref="CriteriaStats"/>; NAEE is a subset search (<see cref="NaeeSearch"/>), not a score.
/// </summary>
public static class CriteriaScorer
{
    /// <param name="stats">Calibration statistics (required unless the criterion is a weight criterion or random with views).</param>
    /// <param name="views">One view per MoE layer (required for weight criteria).</param>
    /// <param name="seed">Seed of the random baseline.</param>
    public static CriterionScores Score(CriterionSpec spec, CriteriaStats? stats, IReadOnlyList<IMoeLayerView>? views, int seed = 0)
    {
        var kind = spec.Kind;
        if (kind == CriterionKind.Naee)
            throw new MoePruneException("criterion naee: selects subsets by reconstruction error; use NaeeSearch");
        var result = new CriterionScores
        {
            Spec = spec,
            Drops = CriterionInfo.IsPair(kind) ? DropDirection.Min : spec.Direction,
        };
        if (CriterionInfo.Group(kind) == CriterionGroup.Weight || (kind == CriterionKind.Random && stats is null))
        {
            if (views is null || views.Count == 0)
                throw new MoePruneException($"criterion {spec.Name}: needs the model's MoE layers");
            foreach (var v in views)
                result.Layers[v.LayerIndex] = new LayerScores(v.LayerIndex, v.TopK,
                    kind == CriterionKind.Random ? RandomValues(seed, v.LayerIndex, v.NumExperts) : WeightCriteria.Score(kind, v));
            return result;
        }
        if (stats is null || stats.Layers.Count == 0)
            throw new MoePruneException($"criterion {spec.Name}: needs calibration statistics, none were given");
        foreach (var (index, s) in stats.Layers)
        {
            double[] values = CriterionInfo.Group(kind) switch
            {
                CriterionGroup.Gradient => GradientCriteria.Score(kind, s),
                _ when kind == CriterionKind.Random => RandomValues(seed, index, s.NumExperts),
                _ => StatsCriteria.Score(kind, s, spec.Direction),
            };
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
