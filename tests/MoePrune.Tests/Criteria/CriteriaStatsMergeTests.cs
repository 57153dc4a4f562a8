using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Criteria;

public class CriteriaStatsMergeTests(ITestOutputHelper output)
{
    private static IReadOnlyList<CriterionSpec> Every => CalibrationRun.AllCriteria;

    [Fact]
    public void MergedHalvesEqualOnePassOverEverything()
    {
        // one stream of events; the whole run sees all three batches, "first" two of them, "second" the third
        var run = new CalibrationRun(Every, naeeTokens: 200);
        var first = new CriteriaCollector(Every, CalibrationRun.Vocab, 200);
        var second = new CriteriaCollector(Every, CalibrationRun.Vocab, 200);
        run.Extra.Add(first);
        run.RunBatch(11, "web");
        run.RunBatch(12, "code");
        run.Extra.Clear();
        run.Extra.Add(second);
        run.RunBatch(13, "web");
        var whole = run.Collector.Stats;
        var merged = CriteriaStats.Merge(first.Stats, second.Stats);

        double maxDiff = 0;
        foreach (var (index, w) in whole.Layers)
            maxDiff = Math.Max(maxDiff, AssertLayerEqual(w, merged.Layers[index], 1e-12, 1e-6));
        foreach (var (source, layers) in whole.Sources)
            foreach (var (index, w) in layers)
                maxDiff = Math.Max(maxDiff, AssertLayerEqual(w, merged.Sources[source][index], 1e-12, 1e-6));
        output.WriteLine($"max |whole − merged| over sums: {maxDiff:E2}");

        var views = run.Layers;
        foreach (var spec in Every.Where(s => s.Kind != CriterionKind.Naee))
        {
            var a = CriteriaScorer.Score(spec, whole, views, seed: 3);
            var b = CriteriaScorer.Score(spec, merged, views, seed: 3);
            foreach (var (index, layer) in a.Layers)
                for (int e = 0; e < layer.Values.Length; e++)
                    Assert.True(Math.Abs(layer.Values[e] - b.Layer(index).Values[e]) <= 1e-6 * Math.Max(1, Math.Abs(layer.Values[e])),
                        $"{spec.Name} layer {index} expert {e}: whole {layer.Values[e]} merged {b.Layer(index).Values[e]}");
        }
    }

    [Fact]
    public void NaeeSampleOfMergeIsCappedConcatenation()
    {
        var a = new CalibrationRun([CriterionSpec.Parse("naee")], naeeTokens: 25);
        a.RunBatch(11, gradients: false);
        var b = new CalibrationRun([CriterionSpec.Parse("naee")], naeeTokens: 25);
        b.RunBatch(12, gradients: false);
        var sa = Sample(a.Collector.Stats.Layers[0]);
        var sb = Sample(b.Collector.Stats.Layers[0]);
        var merged = Sample(CriteriaStats.Merge(a.Collector.Stats, b.Collector.Stats).Layers[0]);
        int h = sa.HiddenSize;
        Assert.Equal(Math.Min(25, sa.Rows + sb.Rows), merged.Rows);
        var expected = sa.Data.ToArray().Concat(sb.Data.ToArray()).Take(merged.Rows * h);
        Assert.Equal(expected, merged.Data.ToArray());
    }

    [Fact]
    public void SaveLoadRoundTripIsExact()
    {
        var stats = new CalibrationRun(Every, naeeTokens: 20).RunThree().Collector.Stats;
        var path = Path.Combine(Path.GetTempPath(), $"moeprune-stats-{Guid.NewGuid():N}.safetensors");
        try
        {
            stats.CheckpointFingerprint = "0123456789abcdef";
            CriteriaStatsFile.Save(stats, path);
            Assert.Single(Directory.EnumerateFiles(Path.GetDirectoryName(path)!, "*" + Path.GetFileName(path) + "*"));
            var loaded = CriteriaStatsFile.Load(path);
            output.WriteLine($"{new FileInfo(path).Length} bytes");
            Assert.Equal(stats.Criteria, loaded.Criteria);
            Assert.Equal(stats.Calibration, loaded.Calibration);
            Assert.Equal("0123456789abcdef", loaded.CheckpointFingerprint);
            Assert.Equal(stats.ExpertCounts, loaded.ExpertCounts);
            Assert.Equal(stats.Sources.Keys, loaded.Sources.Keys);
            foreach (var (index, s) in stats.Layers)
                AssertLayerEqual(s, loaded.Layers[index], 0, 0);
            foreach (var (source, layers) in stats.Sources)
                foreach (var (index, s) in layers)
                    AssertLayerEqual(s, loaded.Sources[source][index], 0, 0);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BrokenOrMismatchedInputsAreRefused()
    {
        var path = Path.Combine(Path.GetTempPath(), $"moeprune-bad-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, [255, 255, 0, 0, 0, 0, 0, 0, 1, 2]);
        try
        {
            var ex = Assert.Throws<MoePruneException>(() => CriteriaStatsFile.Load(path));
            Assert.Contains(path, ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
        var withActivations = new CalibrationRun([CriterionSpec.Parse("ean")]).RunThree(gradients: false).Collector.Stats;
        var routingOnly = new CalibrationRun([CriterionSpec.Parse("euf")]).RunThree(gradients: false).Collector.Stats;
        Assert.Throws<MoePruneException>(() => CriteriaStats.Merge(withActivations, routingOnly));
        Assert.Throws<MoePruneException>(() => CriteriaScorer.Score(CriterionSpec.Parse("ean"), routingOnly, null));
    }

    internal static LayerInputSample Sample(LayerStats s) => s.Find<LayerInputSample>(LayerInputSample.Kind)!;

    /// <summary>Asserts equality (exact for counts/bitsets/samples, within tolerances for sums); returns the largest sum difference.</summary>
    internal static double AssertLayerEqual(LayerStats a, LayerStats b, double sumTol, double gradTol)
    {
        Assert.Equal(a.Parts.Keys, b.Parts.Keys);
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.Equal(a.Routing.Count, b.Routing.Count);
        Assert.Equal(a.Routing.CoSelect, b.Routing.CoSelect);
        if (a.Find<TokenSets>(TokenSets.Kind) is { } ta)
        {
            var tb = b.Find<TokenSets>(TokenSets.Kind)!;
            Assert.Equal(ta.VocabSize, tb.VocabSize);
            for (int e = 0; e < a.NumExperts; e++) Assert.Equal(ta.Bits[e], tb.Bits[e]);
        }
        double max = 0;
        if (a.Find<ActivationSums>(ActivationSums.Kind) is { } x)
        {
            var y = b.Find<ActivationSums>(ActivationSums.Kind)!;
            Assert.Equal(x.Outliers, y.Outliers);
            foreach (var (p, q) in new[] { (x.SumY, y.SumY), (x.SumY2, y.SumY2), (x.SumUnit, y.SumUnit), (x.SumNorm, y.SumNorm), (x.SumGateNorm, y.SumGateNorm) })
                for (int i = 0; i < p.Length; i++)
                {
                    double d = Math.Abs(p[i] - q[i]);
                    max = Math.Max(max, d);
                    Assert.True(d <= sumTol * Math.Max(1, Math.Abs(p[i])), $"layer {a.LayerIndex} sum {i}: {p[i]} vs {q[i]}");
                }
        }
        if (a.Find<GradientSums>(GradientSums.Kind) is { } ga)
        {
            var gb = b.Find<GradientSums>(GradientSums.Kind)!;
            Assert.Equal(ga.Steps, gb.Steps);
            Assert.Equal(ga.HasValues, gb.HasValues);
            for (int e = 0; ga.HasValues && e < a.NumExperts; e++)
                for (int i = 0; i < ga.Sums![e].Length; i++)
                    Assert.True(Math.Abs(ga.Sums[e][i] - gb.Sums![e][i]) <= gradTol * Math.Max(1, Math.Abs(ga.Sums[e][i])));
        }
        if (a.Find<LayerInputSample>(LayerInputSample.Kind) is { } sa)
        {
            var sb = Sample(b);
            Assert.Equal((sa.Capacity, sa.HiddenSize, sa.Rows), (sb.Capacity, sb.HiddenSize, sb.Rows));
            Assert.Equal(sa.Data.ToArray(), sb.Data.ToArray());
        }
        return max;
    }
}
