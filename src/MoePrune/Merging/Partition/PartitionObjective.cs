namespace MoePrune.Merging.Partition;

/// <summary>
/// The grouping objective (docs/MERGING.md §2.1): for a partition P of the experts,
/// J(P) = Σ_{i&lt;j in the same group} S̃_ij − Σ_{i&lt;j in different groups} S̃_ij, to be maximised, with
/// S̃_ij = (S_ij + S_ji)/2 − c and c the mean off-diagonal similarity when centred (c = 0 otherwise).
/// Since the two sums add up to a constant, maximising J is maximising the within-group sum.
/// </summary>
public static class PartitionObjective
{
    public static double Value(SimilarityMatrix s, ExpertGrouping grouping, bool centered)
    {
        var w = Weights(s, centered);
        var labels = grouping.Labels();
        int n = s.Size;
        double j = 0;
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++)
                j += labels[a] == labels[b] ? w[a, b] : -w[a, b];
        return j;
    }

    /// <summary>S̃: the symmetrised, optionally centred similarity the partitioners work on.</summary>
    public static double[,] Weights(SimilarityMatrix s, bool centered)
    {
        int n = s.Size;
        double c = centered ? s.OffDiagonalMean() : 0;
        var w = new double[n, n];
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
                w[a, b] = a == b ? 0 : (s[a, b] + s[b, a]) / 2 - c;
        return w;
    }
}
