using MoePrune.Merging;
using MoePrune.Merging.Partition;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Merging;

public class PartitionTests(ITestOutputHelper output)
{
    private static SimilarityMatrix RandomSymmetric(Random rng, int n, double offset = 0)
    {
        var v = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++)
                v[i * n + j] = v[j * n + i] = i == j ? 1 : rng.NextDouble() + offset;
        return new SimilarityMatrix("test", n, v);
    }

    private static string Canon(IEnumerable<IEnumerable<int>> groups) =>
        string.Join(" ", groups.Select(g => g.Order().ToArray()).OrderBy(g => g[0]).Select(g => "{" + string.Join(",", g) + "}"));

    /// <summary>Every labelling in r^E, keeping the surjective ones, scored directly: within − between, or Σ_G (pair sum of G)/|G|.</summary>
    private static (string Partition, double Value) BruteForce(SimilarityMatrix s, int r, PartitionObjectiveKind kind, bool centered)
    {
        int n = s.Size;
        double c = 0;
        if (centered && kind == PartitionObjectiveKind.WithinMinusBetween)
        {
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) if (i != j) c += s[i, j];
            c /= n * (n - 1);
        }
        var labels = new int[n];
        double best = double.NegativeInfinity;
        string bestPartition = "";
        long total = (long)Math.Pow(r, n);
        for (long code = 0; code < total; code++)
        {
            long rest = code;
            int used = 0;
            for (int i = 0; i < n; i++) { labels[i] = (int)(rest % r); rest /= r; used |= 1 << labels[i]; }
            if (used != (1 << r) - 1) continue;
            double within = 0, between = 0;
            var groupSums = new double[r];
            var sizes = new int[r];
            for (int i = 0; i < n; i++)
            {
                sizes[labels[i]]++;
                for (int j = i + 1; j < n; j++)
                {
                    double w = s[i, j] - c;
                    if (labels[i] == labels[j]) { within += w; groupSums[labels[i]] += w; } else between += w;
                }
            }
            double value = kind == PartitionObjectiveKind.WithinMinusBetween ? within - between : groupSums.Zip(sizes, (a, b) => a / b).Sum();
            if (value > best + 1e-12)
            {
                best = value;
                bestPartition = Canon(Enumerable.Range(0, n).GroupBy(e => labels[e]).Select(g => g.AsEnumerable()));
            }
        }
        return (bestPartition, best);
    }

    [Theory]
    [InlineData(6, 2, PartitionObjectiveKind.AverageWithin, false)]
    [InlineData(7, 3, PartitionObjectiveKind.AverageWithin, false)]
    [InlineData(8, 4, PartitionObjectiveKind.AverageWithin, false)]
    [InlineData(8, 6, PartitionObjectiveKind.AverageWithin, false)]
    [InlineData(6, 2, PartitionObjectiveKind.WithinMinusBetween, true)]
    [InlineData(6, 3, PartitionObjectiveKind.WithinMinusBetween, false)]
    [InlineData(7, 3, PartitionObjectiveKind.WithinMinusBetween, true)]
    [InlineData(7, 4, PartitionObjectiveKind.WithinMinusBetween, false)]
    [InlineData(8, 4, PartitionObjectiveKind.WithinMinusBetween, true)]
    [InlineData(8, 6, PartitionObjectiveKind.WithinMinusBetween, false)]
    public void ExactPartitionEqualsTheBruteForceOptimum(int n, int r, PartitionObjectiveKind kind, bool centered)
    {
        var s = RandomSymmetric(new Random(n * 10 + r), n, offset: -0.3);
        var (expected, value) = BruteForce(s, r, kind, centered);
        var result = Partitioner.Solve(s, r, new PartitionOptions { Method = PartitionMethod.Exact, Objective = kind, Centered = centered });
        output.WriteLine($"E={n} r={r} {kind} centered={centered}: exact {result.Grouping} J={result.Objective:F6}; brute force {expected} J={value:F6}; |ΔJ| = {Math.Abs(result.Objective - value):E2}");
        Assert.Equal(expected, Canon(result.Grouping.Groups));
        Assert.True(Math.Abs(result.Objective - value) < 1e-9);
        Assert.Equal(r, result.Grouping.Count);
    }

    [Fact]
    public void AverageWithinOfMinusWeightMseIsMinusTheUniformMergeError()
    {
        var layer = MergingFixtures.RandomLayer(new Random(7), 6, 4, 3, TorchSharp.torch.ScalarType.Float64);
        var s = MoePrune.Merging.Similarity.WeightSimilarity.FlattenedWeights(layer);
        var grouping = ExpertGrouping.FromGroups(6, [[0, 4], [1, 2, 5], [3]]);
        var flat = layer.Experts.Select(w => MergingFixtures.Values(w.GateProj).Concat(MergingFixtures.Values(w.UpProj)).Concat(MergingFixtures.Values(w.DownProj)).ToArray()).ToArray();
        double error = 0;                                                   // Σ_G Σ_{i∈G} ‖θ_i − θ̄_G‖² / P
        foreach (var g in grouping.Groups)
            for (int k = 0; k < flat[0].Length; k++)
            {
                double mean = g.Average(e => flat[e][k]);
                error += g.Sum(e => Math.Pow(flat[e][k] - mean, 2));
            }
        error /= flat[0].Length;
        double j = PartitionObjective.Value(s, grouping, PartitionObjectiveKind.AverageWithin);
        output.WriteLine($"J = {j:F8}, −(uniform-merge squared error)/P = {-error:F8}, |Δ| = {Math.Abs(j + error):E2}");
        Assert.True(Math.Abs(j + error) < 1e-12);
    }

    [Fact]
    public void PartitionCountsAreStirlingNumbersOfTheSecondKind()
    {
        Assert.Equal(1_323_652, ExactPartitioner.PartitionCount(12, 6));
        Assert.Equal(42_525, ExactPartitioner.PartitionCount(10, 5));
        Assert.Equal(1_701, ExactPartitioner.PartitionCount(8, 4));
        Assert.Equal(28, ExactPartitioner.PartitionCount(8, 7));
        Assert.Equal(1, ExactPartitioner.PartitionCount(5, 5));
        Assert.Equal(1, ExactPartitioner.PartitionCount(5, 1));
        Assert.Equal(0, ExactPartitioner.PartitionCount(5, 6));
    }

    [Fact]
    public void ExactSearchRefusesTooManyPartitionsAndAutoFallsBackToHierarchical()
    {
        var s = RandomSymmetric(new Random(3), 16);
        var e = Assert.Throws<MoePruneException>(() => Partitioner.Solve(s, 8, new PartitionOptions { Method = PartitionMethod.Exact }));
        output.WriteLine(e.Message);
        Assert.Contains("exceed the cap", e.Message);
        Assert.Equal(PartitionMethod.Hierarchical, Partitioner.Solve(s, 8).Method);
        Assert.Equal(PartitionMethod.Exact, Partitioner.Solve(RandomSymmetric(new Random(4), 8), 6).Method);
    }

    [Theory]
    [InlineData(16, 4)]
    [InlineData(64, 8)]
    [InlineData(128, 32)]
    public void HierarchicalClusteringRecoversPlantedClusters(int n, int clusters)
    {
        var rng = new Random(n);
        var perm = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();
        int Cluster(int e) => perm[e] % clusters;
        var v = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++)
                v[i * n + j] = v[j * n + i] = i == j ? 1 : (Cluster(i) == Cluster(j) ? 0.7 : 0.2) + (rng.NextDouble() - 0.5) * 0.3;
        var s = new SimilarityMatrix("planted", n, v);
        var result = Partitioner.Solve(s, clusters, new PartitionOptions { Method = PartitionMethod.Hierarchical });
        var planted = Canon(Enumerable.Range(0, n).GroupBy(Cluster).Select(g => g.AsEnumerable()));
        output.WriteLine($"E={n}, {clusters} planted clusters: recovered = {Canon(result.Grouping.Groups) == planted}");
        Assert.Equal(planted, Canon(result.Grouping.Groups));
    }

    [Fact]
    public void HierarchicalClusteringEqualsANaiveAverageLinkage()
    {
        for (int seed = 0; seed < 5; seed++)
        {
            var s = RandomSymmetric(new Random(100 + seed), 12);
            // reference: recompute every group pair's mean similarity from scratch at each step
            var groups = Enumerable.Range(0, 12).Select(e => new List<int> { e }).ToList();
            while (groups.Count > 4)
            {
                (int A, int B, double V) best = (-1, -1, double.NegativeInfinity);
                for (int a = 0; a < groups.Count; a++)
                    for (int b = a + 1; b < groups.Count; b++)
                    {
                        double mean = groups[a].SelectMany(i => groups[b].Select(j => s[i, j])).Average();
                        if (mean > best.V) best = (a, b, mean);
                    }
                groups[best.A].AddRange(groups[best.B]);
                groups.RemoveAt(best.B);
            }
            var result = HierarchicalPartitioner.Solve(s, 4);
            output.WriteLine($"seed {seed}: {result} vs naive {Canon(groups)}");
            Assert.Equal(Canon(groups), Canon(result.Groups));
        }
    }

    [Fact]
    public void DominantGroupingUsesTheMostRoutedExpertsAsCentres()
    {
        // counts: dominant experts 0 and 2; 1 and 4 are closer to 2, 3 to 0
        double[] v =
        [
            1.0, 0.1, 0.2, 0.9, 0.3,
            0.1, 1.0, 0.8, 0.2, 0.1,
            0.2, 0.8, 1.0, 0.1, 0.6,
            0.9, 0.2, 0.1, 1.0, 0.0,
            0.3, 0.1, 0.6, 0.0, 1.0,
        ];
        var s = new SimilarityMatrix("hand", 5, v);
        var result = Partitioner.Solve(s, 2, new PartitionOptions { Method = PartitionMethod.Dominant }, [10, 1, 7, 2, 0]);
        Assert.Equal("{0,3} {1,2,4}", result.Grouping.ToString());
        Assert.Throws<MoePruneException>(() => Partitioner.Solve(s, 2, new PartitionOptions { Method = PartitionMethod.Dominant }));
    }

    [Fact]
    public void GroupsAreOrderedByTheirLowestOriginalIndex()
    {
        var g = ExpertGrouping.FromGroups(6, [[5, 3], [4], [0, 2, 1]]);
        Assert.Equal("{0,1,2} {3,5} {4}", g.ToString());
        Assert.Equal([0, 0, 0, 1, 2, 1], g.Labels());
        Assert.Equal("{0} {1} {2}", ExpertGrouping.FromLabels([7, 3, 9]).ToString());
    }
}
