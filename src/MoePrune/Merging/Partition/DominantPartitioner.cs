namespace MoePrune.Merging.Partition;

/// <summary>
/// M-SMoE's grouping: the r most-routed experts (by routed-token count; ties to the lower index) are the
/// dominant experts, one per group, and every other expert joins the dominant expert it is most similar to
/// (ties to the lower index). Per layer; M-SMoE's global, non-uniform variant is not reproduced.
/// </summary>
public static class DominantPartitioner
{
    public static ExpertGrouping Solve(SimilarityMatrix s, int groups, IReadOnlyList<double> routedCounts)
    {
        int n = s.Size;
        if (routedCounts.Count != n)
            throw new MoePruneException($"dominant grouping: {routedCounts.Count} routed-token counts for {n} experts");
        if (groups < 1 || groups > n) throw new ArgumentOutOfRangeException(nameof(groups), $"cannot split {n} experts into {groups} groups");
        var sim = PartitionObjective.Weights(s, centered: false);
        var dominant = Enumerable.Range(0, n).OrderByDescending(e => routedCounts[e]).ThenBy(e => e).Take(groups).Order().ToArray();
        var label = new int[n];
        for (int e = 0; e < n; e++)
        {
            if (Array.IndexOf(dominant, e) >= 0) { label[e] = e; continue; }
            int best = dominant[0];
            foreach (var d in dominant)
                if (sim[e, d] > sim[e, best]) best = d;
            label[e] = best;
        }
        return ExpertGrouping.FromLabels(label);
    }
}
