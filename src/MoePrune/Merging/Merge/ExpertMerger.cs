using MoePrune.Merging.Partition;

namespace MoePrune.Merging.Merge;

/// <summary>
/// Merges every group of a layer's grouping into one expert and one router row with the same coefficients
/// (docs/MERGING.md §3). Slot n of the result is group n (canonical order). Groups of one are copied
/// unchanged.
/// </summary>
public static class ExpertMerger
{
    /// <param name="routedCounts">(E) routed-token counts on the calibration data (Frequency, MaxFrequency).</param>
    /// <param name="learned">inputs and routing for Learned.</param>
    public static MergedLayer Merge(MoeLayerWeights layer, ExpertGrouping grouping, MergeMethod method,
        IReadOnlyList<double>? routedCounts = null, LearnedMergeOptions? learned = null)
    {
        if (grouping.NumExperts != layer.NumExperts)
            throw new MoePruneException($"merge: the grouping covers {grouping.NumExperts} experts, the layer has {layer.NumExperts}");
        if (routedCounts is not null && routedCounts.Count != layer.NumExperts)
            throw new MoePruneException($"merge: {routedCounts.Count} routed-token counts for {layer.NumExperts} experts");
        double[][] alphas;
        double[] scales;
        LearnedMergeReport? report = null;
        if (method == MergeMethod.Learned)
        {
            if (learned is null) throw new MoePruneException("learned merging needs the layer's calibration inputs and routing");
            (alphas, scales, report) = LearnedMerge.Fit(layer, grouping, learned);
        }
        else
        {
            alphas = grouping.Groups.Select(g => MergeCoefficients.For(method, g, routedCounts)).ToArray();
            scales = Enumerable.Repeat(1.0, grouping.Count).ToArray();
        }
        var experts = grouping.Groups.Select((g, n) => WeightedSum.Expert(layer, g, alphas[n], scales[n])).ToArray();
        return new MergedLayer(method, experts, report);
    }
}
