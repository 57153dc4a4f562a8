using MoePrune.Criteria;
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
        var sa = a.Collector.Stats.Layers[0];
        var sb = b.Collector.Stats.Layers[0];
        var merged = CriteriaStats.Merge(a.Collector.Stats, b.Collector.Stats).Layers[0];
        int h = sa.NaeeHidden;
        Assert.Equal(Math.Min(25, sa.NaeeRows + sb.NaeeRows), merged.NaeeRows);
        var expected = sa.NaeeInputs!.Take(sa.NaeeRows * h).Concat(sb.NaeeInputs!.Take(sb.NaeeRows * h)).Take(merged.NaeeRows * h);
        Assert.Equal(expected, merged.NaeeInputs!.Take(merged.NaeeRows * h));
    }

    [Fact]
    public void SaveLoadRoundTripIsExact()
    {
        var stats = new CalibrationRun(Every, naeeTokens: 20).RunThree().Collector.Stats;
        var path = Path.Combine(Path.GetTempPath(), $"moeprune-stats-{Guid.NewGuid():N}.safetensors");
        try
        {
            CriteriaStatsFile.Save(stats, path);
            Assert.False(File.Exists(path + ".tmp-" + Environment.ProcessId));
            var loaded = CriteriaStatsFile.Load(path);
            output.WriteLine($"{new FileInfo(path).Length} bytes");
            Assert.Equal(stats.Criteria, loaded.Criteria);
            Assert.Equal(stats.Calibration, loaded.Calibration);
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

    /// <summary>Asserts equality (exact for counts/bitsets, within tolerances for sums); returns the largest sum difference.</summary>
    internal static double AssertLayerEqual(LayerStats a, LayerStats b, double sumTol, double gradTol)
    {
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.Equal(a.Count, b.Count);
        Assert.Equal(a.CoSelect, b.CoSelect);
        Assert.Equal(a.HasTokenSets, b.HasTokenSets);
        if (a.HasTokenSets)
            for (int e = 0; e < a.NumExperts; e++) Assert.Equal(a.TokenSets![e], b.TokenSets![e]);
        double max = 0;
        if (a.HasActivations)
        {
            Assert.Equal(a.Outliers, b.Outliers);
            foreach (var (x, y) in new[] { (a.SumY!, b.SumY!), (a.SumY2!, b.SumY2!), (a.SumUnit!, b.SumUnit!), (a.SumNorm!, b.SumNorm!), (a.SumGateNorm!, b.SumGateNorm!) })
                for (int i = 0; i < x.Length; i++)
                {
                    double d = Math.Abs(x[i] - y[i]);
                    max = Math.Max(max, d);
                    Assert.True(d <= sumTol * Math.Max(1, Math.Abs(x[i])), $"layer {a.LayerIndex} sum {i}: {x[i]} vs {y[i]}");
                }
        }
        Assert.Equal(a.HasGradients, b.HasGradients);
        if (a.HasGradients)
        {
            Assert.Equal(a.GradSteps, b.GradSteps);
            for (int e = 0; e < a.NumExperts; e++)
                for (int i = 0; i < a.GradSum![e].Length; i++)
                    Assert.True(Math.Abs(a.GradSum[e][i] - b.GradSum![e][i]) <= gradTol * Math.Max(1, Math.Abs(a.GradSum[e][i])));
        }
        Assert.Equal(a.NaeeRows, b.NaeeRows);
        if (a.HasNaee)
            Assert.Equal(a.NaeeInputs!.Take(a.NaeeRows * a.NaeeHidden), b.NaeeInputs!.Take(b.NaeeRows * b.NaeeHidden));
        return max;
    }
}
