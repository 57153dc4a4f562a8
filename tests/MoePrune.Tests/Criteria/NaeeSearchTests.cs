using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Observation;
using MoePrune.Pruning.Selectors;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Criteria;

public class NaeeSearchTests(ITestOutputHelper output)
{
    private static CalibrationRun Collect(int naeeTokens)
    {
        var run = new CalibrationRun([CriterionSpec.Parse("naee")], naeeTokens: naeeTokens);
        return run.RunThree(gradients: false);
    }

    [Fact]
    public void ExhaustiveFindsTheTrulyMinimalSubset()
    {
        var run = Collect(naeeTokens: 30);
        var view = run.Layers[0];
        var stats = Sample(run.Collector.Stats.Layers[0]);
        Assert.Equal(30, stats.Rows);
        var inputs = Rows(stats);
        var result = NaeeSearch.SearchLayer(view, stats, keep: 3, NaeeMode.Exhaustive);

        // brute force with a naive double-precision MoE block
        var full = inputs.Select(x => NaiveMoe(view, x, Enumerable.Repeat(true, 6).ToArray())).ToArray();
        var errors = new Dictionary<string, double>();
        for (int mask = 0; mask < 64; mask++)
        {
            var keep = Enumerable.Range(0, 6).Select(e => (mask >> e & 1) == 1).ToArray();
            if (keep.Count(k => k) != 3) continue;
            double err = 0;
            for (int i = 0; i < inputs.Length; i++)
                err += NaiveMoe(view, inputs[i], keep).Zip(full[i], (a, b) => (a - b) * (a - b)).Sum();
            errors[string.Join(",", Enumerable.Range(0, 6).Where(e => keep[e]))] = err;
        }
        var best = errors.MinBy(kv => kv.Value);
        output.WriteLine($"naive best {best.Key} error {best.Value:G6}; search best {string.Join(",", result.Best.Experts)} error {result.Best.Error:G6}");
        Assert.Equal(best.Key, string.Join(",", result.Best.Experts));
        Assert.Equal(best.Value, result.Best.Error, 1e-4 * Math.Max(1, best.Value));
        Assert.Equal(20, result.Evaluated[3].Count);
        foreach (var s in result.Evaluated[3])
            Assert.Equal(errors[string.Join(",", s.Experts)], s.Error, 1e-4 * Math.Max(1, s.Error));
    }

    [Fact]
    public void StoredInputsAreTheFirstRowsSeen()
    {
        var run = Collect(naeeTokens: 10);
        var stats = Sample(run.Collector.Stats.Layers[0]);
        Assert.Equal(10, stats.Rows);
        var largeStats = Collect(naeeTokens: 4096).Collector.Stats.Layers[0];
        var large = Sample(largeStats);
        Assert.True(large.Rows > 10 && large.Rows == largeStats.Tokens);
        Assert.Equal(large.Data.ToArray().Take(10 * stats.HiddenSize), stats.Data.ToArray());
    }

    [Fact]
    public void GreedyIsSaneAndMatchesExhaustiveForOneRemoval()
    {
        var run = Collect(naeeTokens: 30);
        var view = run.Layers[1];
        var stats = Sample(run.Collector.Stats.Layers[1]);
        var g5 = NaeeSearch.SearchLayer(view, stats, 5, NaeeMode.Greedy);
        var e5 = NaeeSearch.SearchLayer(view, stats, 5, NaeeMode.Exhaustive);
        Assert.Equal(e5.Best.Experts, g5.Best.Experts);
        var g3 = NaeeSearch.SearchLayer(view, stats, 3, NaeeMode.Greedy);
        var e3 = NaeeSearch.SearchLayer(view, stats, 3, NaeeMode.Exhaustive);
        output.WriteLine($"greedy keep 3: {string.Join(",", g3.Best.Experts)} {g3.Best.Error:G6}; exhaustive {string.Join(",", e3.Best.Experts)} {e3.Best.Error:G6}");
        Assert.Equal(3, g3.Best.Experts.Length);
        Assert.True(g3.Best.Error >= e3.Best.Error * (1 - 1e-5));                       // float32 forwards: not bit-reproducible
        Assert.Equal([6, 5, 4], new[] { 5, 4, 3 }.Select(size => g3.Evaluated[size].Count).ToArray());
        var best4 = g3.Evaluated[4].MinBy(s => s.Error)!;                                  // each step removes from the previous best
        Assert.Subset(best4.Experts.ToHashSet(), g3.Best.Experts.ToHashSet());
        Assert.Subset(g5.Best.Experts.ToHashSet(), best4.Experts.ToHashSet());
    }

    [Fact]
    public void ProtectedExpertsStayInTheSubset()
    {
        var run = Collect(naeeTokens: 20);
        var stats = Sample(run.Collector.Stats.Layers[0]);
        var plain = NaeeSearch.SearchLayer(run.Layers[0], stats, 3, NaeeMode.Exhaustive);
        int outside = Enumerable.Range(0, 6).First(e => !plain.Best.Experts.Contains(e));
        var kept = NaeeSearch.SearchLayer(run.Layers[0], stats, 3, NaeeMode.Exhaustive, protect: [outside]);
        Assert.Contains(outside, kept.Best.Experts);
        Assert.Equal(10, kept.Evaluated[3].Count);
    }

    [Fact]
    public void ExhaustiveRefusesAboveTheCap()
    {
        var view = new FakeMoeLayer(0, 16, 2, 8, 4, seed: 1);
        var stats = new LayerInputSample(0, 4, 8);
        stats.Append(new float[4 * 8], 4);
        var ex = Assert.Throws<MoePruneException>(() => NaeeSearch.SearchLayer(view, stats, 8, NaeeMode.Exhaustive));
        output.WriteLine(ex.Message);
        Assert.Contains("12870", ex.Message);
        Assert.Contains("greedy", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        var greedy = NaeeSearch.SearchLayer(view, stats, 14, NaeeMode.Greedy);
        Assert.Equal(14, greedy.Best.Experts.Length);
        Assert.Throws<MoePruneException>(() => NaeeSearch.SearchLayer(view, stats, 1, NaeeMode.Greedy));
    }

    private static LayerInputSample Sample(LayerStats s) => CriteriaStatsMergeTests.Sample(s);

    private static double[][] Rows(LayerInputSample s) => Enumerable.Range(0, s.Rows)
        .Select(i => s.Data.ToArray().Skip(i * s.HiddenSize).Take(s.HiddenSize).Select(v => (double)v).ToArray()).ToArray();

    /// <summary>Softmax over kept experts → top-k → renormalise → Σ g·down(silu(gate x)·up x), in double.</summary>
    private double[] NaiveMoe(IMoeLayerView v, double[] x, bool[] keep)
    {
        var logits = Mv(M(v.RouterWeight), x);
        var alive = Enumerable.Range(0, v.NumExperts).Where(e => keep[e]).ToArray();
        double mx = alive.Max(e => logits[e]);
        double z = alive.Sum(e => Math.Exp(logits[e] - mx));
        var chosen = alive.OrderByDescending(e => logits[e]).Take(v.TopK).ToArray();
        var w = chosen.Select(e => Math.Exp(logits[e] - mx) / z).ToArray();
        if (v.LayerIndex == 0) w = w.Select(g => g / w.Sum()).ToArray();                // layer 0 renormalises, layer 1 does not
        var y = new double[x.Length];
        for (int c = 0; c < chosen.Length; c++)
        {
            int e = chosen[c];
            var g = Mv(M(v.GateProj(e)), x);
            var u = Mv(M(v.UpProj(e)), x);
            var act = g.Select((a, i) => a / (1 + Math.Exp(-a)) * u[i]).ToArray();
            var o = Mv(M(v.DownProj(e)), act);
            for (int i = 0; i < y.Length; i++) y[i] += w[c] * o[i];
        }
        return y;
    }

    private readonly Dictionary<IntPtr, double[][]> _matrices = [];

    private double[][] M(Tensor t)
    {
        if (_matrices.TryGetValue(t.Handle, out var m)) return m;
        int rows = (int)t.shape[0], cols = (int)t.shape[1];
        var d = t.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        return _matrices[t.Handle] = Enumerable.Range(0, rows).Select(i => d.AsSpan(i * cols, cols).ToArray()).ToArray();
    }

    private static double[] Mv(double[][] m, double[] u)
    {
        var r = new double[m.Length];
        for (int i = 0; i < m.Length; i++)
            for (int j = 0; j < u.Length; j++) r[i] += m[i][j] * u[j];
        return r;
    }
}
