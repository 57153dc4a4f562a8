namespace MoePrune.Merging.Partition;

/// <summary>
/// Agglomerative clustering with average linkage, as HC-SMoE: start from singletons and repeatedly join
/// the two groups with the highest mean pairwise similarity, until r groups remain. Group similarities
/// are updated by the Lance–Williams rule s(A∪B, C) = (|A| s(A, C) + |B| s(B, C)) / (|A| + |B|), which keeps
/// them equal to the mean of the member pairs. Ties join the pair whose lowest members come first.
/// O(E³) time, O(E²) memory: 256 experts take milliseconds. Invariant to adding a constant to S or scaling
/// it by a positive factor.
/// </summary>
public static class HierarchicalPartitioner
{
    public static ExpertGrouping Solve(SimilarityMatrix s, int groups)
    {
        int n = s.Size;
        if (groups < 1 || groups > n) throw new ArgumentOutOfRangeException(nameof(groups), $"cannot split {n} experts into {groups} groups");
        var sim = PartitionObjective.Weights(s, centered: false);
        var size = Enumerable.Repeat(1, n).ToArray();
        var active = Enumerable.Repeat(true, n).ToArray();
        var label = Enumerable.Range(0, n).ToArray();        // cluster id = its lowest member
        for (int remaining = n; remaining > groups; remaining--)
        {
            int bestA = -1, bestB = -1;
            double best = double.NegativeInfinity;
            for (int a = 0; a < n; a++)
            {
                if (!active[a]) continue;
                for (int b = a + 1; b < n; b++)
                    if (active[b] && sim[a, b] > best) (best, bestA, bestB) = (sim[a, b], a, b);
            }
            for (int c = 0; c < n; c++)
            {
                if (!active[c] || c == bestA || c == bestB) continue;
                double joined = (size[bestA] * sim[bestA, c] + size[bestB] * sim[bestB, c]) / (size[bestA] + size[bestB]);
                sim[bestA, c] = sim[c, bestA] = joined;
            }
            size[bestA] += size[bestB];
            active[bestB] = false;
            for (int e = 0; e < n; e++)
                if (label[e] == bestB) label[e] = bestA;
        }
        return ExpertGrouping.FromLabels(label);
    }
}
