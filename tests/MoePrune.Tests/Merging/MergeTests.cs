using MoePrune.Merging;
using MoePrune.Merging.Merge;
using MoePrune.Merging.Partition;
using MoePrune.Models;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static MoePrune.Tests.Merging.MergingFixtures;

namespace MoePrune.Tests.Merging;

public class MergeTests(ITestOutputHelper output)
{
    private static double MaxDiff(Tensor a, Tensor b) => MaxAbsDiff(Values(a), Values(b));

    private static double ExpertDiff(ExpertWeights a, ExpertWeights b) =>
        Math.Max(MaxDiff(a.GateProj, b.GateProj), Math.Max(MaxDiff(a.UpProj, b.UpProj), MaxDiff(a.DownProj, b.DownProj)));

    private static LearnedMergeOptions Learned(Tensor x, int topK = 2, int steps = 20) =>
        new() { Inputs = x, Routing = new SoftmaxTopKRouting(topK, renormalize: true), Steps = steps };

    [Theory]
    [InlineData(MergeMethod.Uniform)]
    [InlineData(MergeMethod.Frequency)]
    [InlineData(MergeMethod.MaxFrequency)]
    public void MergingIdenticalExpertsReturnsThatExpertAndItsRouterRow(MergeMethod method)
    {
        var rng = new Random(21);
        var layer = RandomLayer(rng, 5, 6, 4);
        var e1 = layer.Experts[1];
        var experts = layer.Experts.ToArray();
        experts[3] = new ExpertWeights(e1.GateProj.clone(), e1.UpProj.clone(), e1.DownProj.clone());
        experts[4] = new ExpertWeights(e1.GateProj.clone(), e1.UpProj.clone(), e1.DownProj.clone());
        var router = layer.Router.clone();
        router[3].copy_(router[1]);
        router[4].copy_(router[1]);
        layer = new MoeLayerWeights(router, experts);
        using var merged = ExpertMerger.Merge(layer, ExpertGrouping.FromGroups(5, [[0], [4, 1, 3], [2]]), method, [3, 5, 1, 2, 9]);
        double expert = ExpertDiff(merged.Experts[1].Weights, e1), row = MaxDiff(merged.Experts[1].RouterRow, router[1]);
        output.WriteLine($"{method}: coefficients [{string.Join(", ", merged.Experts[1].Coefficients.Select(c => c.ToString("F3")))}], max |merged − expert 1| = {expert:E2}, router row {row:E2}");
        Assert.Equal(0, expert);
        Assert.Equal(0, row);
        Assert.Equal([1, 3, 4], merged.Experts[1].Members);
    }

    [Fact]
    public void LearnedMergingOfIdenticalExpertsStaysAtThatExpert()
    {
        // Top-1 routing: a token that chose expert 0 or its copy 1 chooses the merged expert, so the merged
        // layer equals the original and the fit starts (and stays) at zero error.
        var rng = new Random(22);
        var layer = RandomLayer(rng, 3, 6, 4);
        var e0 = layer.Experts[0];
        var router = layer.Router.clone();
        router[1].copy_(router[0]);
        layer = new MoeLayerWeights(router, [e0, new ExpertWeights(e0.GateProj.clone(), e0.UpProj.clone(), e0.DownProj.clone()), layer.Experts[2]]);
        using var x = Random(rng, [40, 6]);
        using var merged = ExpertMerger.Merge(layer, ExpertGrouping.FromGroups(3, [[0, 1], [2]]), MergeMethod.Learned, learned: Learned(x, topK: 1));
        double diff = ExpertDiff(merged.Experts[0].Weights, e0), row = MaxDiff(merged.Experts[0].RouterRow, router[0]);
        output.WriteLine($"learned: α = [{string.Join(", ", merged.Experts[0].Coefficients)}], scale {merged.Experts[0].Scale}, max |merged − expert 0| = {diff:E2}, router row {row:E2}, held-out error {merged.Learned!.HeldOutError:E2}");
        Assert.Equal(0, diff);
        Assert.Equal(0, row);
        Assert.Equal(0, merged.Learned!.HeldOutError);
    }

    [Fact]
    public void MaxFrequencyKeepsTheMostRoutedMemberUnchanged()
    {
        var rng = new Random(23);
        var layer = RandomLayer(rng, 6, 5, 3);
        double[] counts = [3, 8, 9, 1, 8, 2];
        using var merged = ExpertMerger.Merge(layer, ExpertGrouping.FromGroups(6, [[5, 2, 0], [1, 4], [3]]), MergeMethod.MaxFrequency, counts);
        int[] kept = [2, 1, 3];                                                                        // 9 beats 3 and 2; 8 = 8 → lower index
        for (int n = 0; n < 3; n++)
        {
            double diff = ExpertDiff(merged.Experts[n].Weights, layer.Experts[kept[n]]), row = MaxDiff(merged.Experts[n].RouterRow, layer.Router[kept[n]]);
            output.WriteLine($"slot {n}: members {string.Join(",", merged.Experts[n].Members)} keeps {kept[n]}: max diffs {diff:E2} / {row:E2}");
            Assert.Equal(0, diff);
            Assert.Equal(0, row);
        }
        Assert.Equal([0, 1, 0], merged.Experts[0].Coefficients);
    }

    [Theory]
    [InlineData(MergeMethod.Uniform)]
    [InlineData(MergeMethod.Frequency)]
    [InlineData(MergeMethod.MaxFrequency)]
    [InlineData(MergeMethod.Learned)]
    public void SingletonGroupsReturnTheInputsUnchanged(MergeMethod method)
    {
        var rng = new Random(24);
        var layer = RandomLayer(rng, 4, 5, 3, ScalarType.BFloat16);
        using var x = Random(rng, [16, 5]);
        using var merged = ExpertMerger.Merge(layer, ExpertGrouping.Singletons(4), method, [1, 2, 3, 4], Learned(x));
        using var routerOut = merged.RouterWeight();
        double max = Math.Max(MaxDiff(routerOut, layer.Router), Enumerable.Range(0, 4).Max(e => ExpertDiff(merged.Experts[e].Weights, layer.Experts[e])));
        output.WriteLine($"{method}: max |merged − original| over 4 singleton slots = {max:E2}");
        Assert.Equal(0, max);
        Assert.Equal(ScalarType.BFloat16, merged.Experts[2].Weights.DownProj.dtype);
    }

    [Fact]
    public void UniformAndFrequencyAreTheWeightedAveragesOfWeightsAndRouterRows()
    {
        var rng = new Random(25);
        var layer = RandomLayer(rng, 5, 4, 3);
        double[] counts = [6, 0, 2, 0, 0];
        var grouping = ExpertGrouping.FromGroups(5, [[0, 2, 3], [1, 4]]);
        foreach (var method in new[] { MergeMethod.Uniform, MergeMethod.Frequency })
        {
            using var merged = ExpertMerger.Merge(layer, grouping, method, counts);
            using var router = merged.RouterWeight();                                                  // (2, H)
            double max = 0;
            for (int n = 0; n < 2; n++)
            {
                var members = grouping.Groups[n];
                // group {1, 4} was never routed: frequency falls back to uniform
                var alpha = method == MergeMethod.Uniform || members.Sum(e => counts[e]) == 0
                    ? members.Select(_ => 1.0 / members.Length).ToArray()
                    : members.Select(e => counts[e] / members.Sum(m => counts[m])).ToArray();
                double[] Avg(Func<int, Tensor> pick)
                {
                    var parts = members.Select(e => Values(pick(e))).ToArray();
                    return Enumerable.Range(0, parts[0].Length).Select(k => (double)(float)parts.Select((p, i) => alpha[i] * p[k]).Sum()).ToArray();
                }
                var got = merged.Experts[n];
                max = new[]
                {
                    MaxAbsDiff(Values(got.Weights.GateProj), Avg(e => layer.Experts[e].GateProj)),
                    MaxAbsDiff(Values(got.Weights.UpProj), Avg(e => layer.Experts[e].UpProj)),
                    MaxAbsDiff(Values(got.Weights.DownProj), Avg(e => layer.Experts[e].DownProj)),
                    MaxAbsDiff(Values(router[n]), Avg(e => layer.Router[e])),
                    max,
                }.Max();
            }
            output.WriteLine($"{method}: max |merged − naive weighted average| = {max:E2}");
            Assert.True(max < 1e-7);
        }
    }

    [Fact]
    public void LearnedMergingReconstructsBetterThanUniformOnAPlantedCase()
    {
        // Expert 1 has expert 0's router row less 3 on a constant input feature, so it is rarely routed, and
        // weights unrelated to expert 0's: averaging {0, 1} uniformly spoils expert 0, while α → (1, 0)
        // recovers the layer.
        var rng = new Random(26);
        var layer = RandomLayer(rng, 4, 6, 8);
        layer.Router[1].copy_(layer.Router[0]);
        layer.Router[1][0] = layer.Router[0][0] - 3;
        Tensor Inputs(int n)
        {
            var x = Random(rng, [n, 6]);
            x.select(1, 0).fill_(1);
            return x;
        }
        using var train = Inputs(96);
        using var test = Inputs(200);
        var grouping = ExpertGrouping.FromGroups(4, [[0, 1], [2], [3]]);
        using var uniform = ExpertMerger.Merge(layer, grouping, MergeMethod.Uniform);
        using var learned = ExpertMerger.Merge(layer, grouping, MergeMethod.Learned, learned: Learned(train, steps: 200));
        double Error(MergedLayer merged)
        {
            var reference = NaiveLayer.Output(test, layer.Router, layer.Experts, 2);
            using var router = merged.RouterWeight();
            var approx = NaiveLayer.Output(test, router, merged.Experts.Select(e => e.Weights).ToArray(), 2);
            double num = 0, den = 0;
            for (int t = 0; t < reference.Length; t++)
                for (int h = 0; h < reference[t].Length; h++) { num += Math.Pow(reference[t][h] - approx[t][h], 2); den += reference[t][h] * reference[t][h]; }
            return num / den;
        }
        double eu = Error(uniform), el = Error(learned);
        var r = learned.Learned!;
        output.WriteLine($"fresh inputs (naive fp64 layer): uniform {eu:E3}, learned {el:E3}; α = [{string.Join(", ", learned.Experts[0].Coefficients.Select(a => a.ToString("F3")))}], s = {learned.Experts[0].Scale:F3}");
        output.WriteLine($"report: train {r.TrainRows} rows {r.UniformTrainError:E3} → {r.TrainError:E3}; held-out {r.HeldOutRows} rows {r.UniformHeldOutError:E3} → {r.HeldOutError:E3}");
        Assert.Equal(24, r.HeldOutRows);
        Assert.True(el < 0.2 * eu);
        Assert.True(r.HeldOutError < r.UniformHeldOutError);
        Assert.True(learned.Experts[0].Coefficients[0] > 0.9);
    }

    [Fact]
    public void FrequencyMergingWithoutCountsIsRefused()
    {
        var layer = RandomLayer(new Random(27), 3, 4, 2);
        var e = Assert.Throws<MoePruneException>(() => ExpertMerger.Merge(layer, ExpertGrouping.FromGroups(3, [[0, 1], [2]]), MergeMethod.Frequency));
        output.WriteLine(e.Message);
        Assert.Contains("routed-token counts", e.Message);
    }
}

/// <summary>A sparse-MoE layer's routed output in fp64, token by token: softmax, top-k, renormalise, Σ g · expert.</summary>
internal static class NaiveLayer
{
    public static double[][] Output(Tensor x, Tensor router, IReadOnlyList<ExpertWeights> experts, int topK)
    {
        double[,] xs = Matrix(x), w = Matrix(router);
        var mats = experts.Select(e => (Matrix(e.GateProj), Matrix(e.UpProj), Matrix(e.DownProj))).ToArray();
        int n = xs.GetLength(0), h = xs.GetLength(1), r = w.GetLength(0);
        var result = new double[n][];
        for (int t = 0; t < n; t++)
        {
            var row = Enumerable.Range(0, h).Select(k => xs[t, k]).ToArray();
            var logits = Enumerable.Range(0, r).Select(e => Enumerable.Range(0, h).Sum(k => w[e, k] * row[k])).ToArray();
            double max = logits.Max();
            var p = logits.Select(l => Math.Exp(l - max)).ToArray();
            double z = p.Sum();
            var top = Enumerable.Range(0, r).OrderByDescending(e => p[e]).Take(topK).ToArray();
            double norm = top.Sum(e => p[e] / z);
            result[t] = new double[h];
            foreach (var e in top)
            {
                var y = ExpertForward(mats[e].Item1, mats[e].Item2, mats[e].Item3, row);
                for (int k = 0; k < h; k++) result[t][k] += p[e] / z / norm * y[k];
            }
        }
        return result;
    }
}
