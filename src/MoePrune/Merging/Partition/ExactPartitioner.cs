namespace MoePrune.Merging.Partition;

/// <summary>
/// The partition of E experts into exactly r non-empty groups that maximises <see cref="PartitionObjective"/>,
/// by enumerating every such partition once (restricted-growth strings: expert i joins one of the groups
/// opened so far or opens the next one), keeping each group's pair sum incrementally.
/// There are S(E, r) partitions (Stirling numbers of the second kind), each costing O(E); the search
/// refuses more than <see cref="DefaultCap"/> of them — always fine for E ≤ 12 (S(12, 6) = 1,323,652 is
/// the largest), and for larger E only when r is near 1 or near E. Ties keep the first partition found.
/// </summary>
public static class ExactPartitioner
{
    public const double DefaultCap = 2_000_000;

    /// <summary>S(n, r): the number of partitions of n items into r non-empty groups (fp64; huge values are approximate).</summary>
    public static double PartitionCount(int n, int r)
    {
        if (r < 0 || r > n) return 0;
        var row = new double[r + 1];
        row[0] = 1;                                                   // S(0, 0)
        for (int i = 1; i <= n; i++)
            for (int k = Math.Min(i, r); k >= 0; k--)
                row[k] = k == 0 ? 0 : k * row[k] + row[k - 1];
        return row[r];
    }

    public static ExpertGrouping Solve(SimilarityMatrix s, int groups,
        PartitionObjectiveKind objective = PartitionObjectiveKind.AverageWithin, bool centered = true, double cap = DefaultCap)
    {
        int n = s.Size;
        if (groups < 1 || groups > n) throw new ArgumentOutOfRangeException(nameof(groups), $"cannot split {n} experts into {groups} groups");
        double count = PartitionCount(n, groups);
        if (count > cap)
            throw new MoePruneException($"exact grouping: S({n}, {groups}) = {count:G4} partitions exceed the cap of {cap:G4}; use hierarchical grouping");
        var w = PartitionObjective.Weights(s, objective == PartitionObjectiveKind.WithinMinusBetween && centered);
        var search = new Search(w, n, groups, objective == PartitionObjectiveKind.AverageWithin);
        search.Run(0, 0);
        return ExpertGrouping.FromLabels(search.Best);
    }

    private sealed class Search(double[,] w, int n, int r, bool average)
    {
        private readonly int[] _labels = new int[n];
        private readonly int[][] _members = Enumerable.Range(0, r).Select(_ => new int[n]).ToArray();
        private readonly int[] _sizes = new int[r];
        private readonly double[] _pairSums = new double[r];            // Σ_{i<j in group} S̃_ij
        private double _best = double.NegativeInfinity;

        public int[] Best { get; } = new int[n];

        public void Run(int i, int used)
        {
            if (i == n)
            {
                if (used < r) return;
                double value = 0;                                         // the within-minus-between J is 2·Σ pair sums − const
                for (int g = 0; g < r; g++) value += average ? _pairSums[g] / _sizes[g] : _pairSums[g];
                if (value > _best) { _best = value; _labels.CopyTo(Best, 0); }
                return;
            }
            if (n - i < r - used) return;                             // too few experts left to open the missing groups
            for (int g = 0; g < used; g++)
            {
                double gain = 0;
                for (int k = 0; k < _sizes[g]; k++) gain += w[i, _members[g][k]];
                Place(i, g);
                _pairSums[g] += gain;
                Run(i + 1, used);
                _pairSums[g] -= gain;
                _sizes[g]--;
            }
            if (used < r)
            {
                Place(i, used);
                Run(i + 1, used + 1);
                _sizes[used]--;
            }
        }

        private void Place(int i, int g)
        {
            _labels[i] = g;
            _members[g][_sizes[g]++] = i;
        }
    }
}
