namespace MoePrune.Merging.Partition;

/// <summary>What the exact grouping maximises (docs/MERGING.md §2.1). S is symmetrised first: (S_ij + S_ji)/2.</summary>
public enum PartitionObjectiveKind
{
    /// <summary>
    /// J = Σ_groups (1/|G|) Σ_{i&lt;j in G} S_ij (average association, the kernel k-means criterion). Adding a
    /// constant to S changes J by a constant, so no centring is needed; with S = −MSE of weights, −J is exactly
    /// the squared error of replacing every expert by its group's uniform average.
    /// </summary>
    AverageWithin,
    /// <summary>
    /// J = Σ_{i&lt;j same group} S̃_ij − Σ_{i&lt;j different groups} S̃_ij, the paper's "high within, low between" as
    /// reported; S̃ = S − c with c the mean off-diagonal similarity when centred. Because the two sums add up
    /// to a constant, this maximises the plain within-group sum, which grows with the number of within-group
    /// pairs: it favours one large group plus singletons whenever the similarities above c are spread out.
    /// </summary>
    WithinMinusBetween,
}

/// <summary>The value of a grouping under <see cref="PartitionObjectiveKind"/> (larger is better).</summary>
public static class PartitionObjective
{
    public static double Value(SimilarityMatrix s, ExpertGrouping grouping, PartitionObjectiveKind kind, bool centered = true)
    {
        var w = Weights(s, kind == PartitionObjectiveKind.WithinMinusBetween && centered);
        var labels = grouping.Labels();
        int n = s.Size;
        if (kind == PartitionObjectiveKind.AverageWithin)
            return grouping.Groups.Sum(g =>
            {
                double sum = 0;
                for (int a = 0; a < g.Length; a++)
                    for (int b = a + 1; b < g.Length; b++) sum += w[g[a], g[b]];
                return sum / g.Length;
            });
        double j = 0;
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++)
                j += labels[a] == labels[b] ? w[a, b] : -w[a, b];
        return j;
    }

    /// <summary>S̃: the symmetrised, optionally centred similarity (zero diagonal) the partitioners work on.</summary>
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
