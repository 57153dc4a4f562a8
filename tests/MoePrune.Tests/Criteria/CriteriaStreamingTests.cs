using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Criteria;

/// <summary>One calibration run (3 padded batches, 2 layers) with every criterion collected.</summary>
public sealed class CalibrationFixture
{
    internal CalibrationRun Run { get; } = new CalibrationRun(CalibrationRun.AllCriteria).RunThree();
}

/// <summary>Every criterion from streamed statistics equals the naive formula on the stored data.</summary>
public class CriteriaStreamingTests(CalibrationFixture fixture, ITestOutputHelper output) : IClassFixture<CalibrationFixture>
{
    private CalibrationRun Run => fixture.Run;

    [Theory]
    [InlineData("max-ews", 1e-5)]
    [InlineData("min-ews", 1e-5)]
    [InlineData("max-rwn", 1e-9)]
    [InlineData("max-wsr", 1e-5)]
    [InlineData("min-ewn", 1e-6)]
    [InlineData("min-euf", 0)]
    [InlineData("frequency", 0)]
    [InlineData("max-ecc", 0)]
    [InlineData("min-ecc", 0)]
    [InlineData("min-evtc", 0)]
    [InlineData("max-ets", 0)]
    [InlineData("min-ets", 0)]
    [InlineData("max-eas", 1e-9)]
    [InlineData("min-eae", 1e-9)]
    [InlineData("min-eao", 0)]
    [InlineData("min-ean", 1e-9)]
    [InlineData("max-egs", 1e-5)]
    [InlineData("min-ege", 1e-5)]
    [InlineData("min-ego", 0)]
    [InlineData("min-egn", 1e-5)]
    [InlineData("min-reap", 1e-9)]
    public void StreamedScoresEqualNaiveRecomputation(string name, double relTol)
    {
        var spec = CriterionSpec.Parse(name);
        var scores = CriteriaScorer.Score(spec, Run.Collector.Stats, Run.Layers);
        foreach (var layer in Run.Layers)
        {
            var expected = Expected(spec, layer.LayerIndex);
            var actual = scores.Layer(layer.LayerIndex).Values;
            double maxDiff = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
            output.WriteLine($"{name} layer {layer.LayerIndex}: got [{string.Join(", ", actual.Select(v => v.ToString("G6")))}] max |diff| {maxDiff:E2}");
            Assert.All(actual, v => Assert.True(double.IsFinite(v)));
            for (int e = 0; e < expected.Length; e++)
                Assert.True(Math.Abs(expected[e] - actual[e]) <= relTol * Math.Max(1, Math.Abs(expected[e])),
                    $"{name} layer {layer.LayerIndex} expert {e}: expected {expected[e]}, got {actual[e]}");
        }
    }

    [Fact]
    public void PaddingRowsAreAbsentAndTokensAddUp()
    {
        var stats = Run.Collector.Stats;
        long naive = Run.Recorder.Layers[0].Tokens.Count;
        Assert.Equal(naive, stats.Tokens);
        Assert.True(naive < 3 * 3 * 7, "some positions should have been padding");
        Assert.Equal(stats.Tokens, stats.Sources["web"][0].Tokens + stats.Sources["code"][0].Tokens);
        Assert.Equal(3, stats.Layers[0].Find<GradientSums>(GradientSums.Kind)!.Steps);
    }

    [Fact]
    public void PerSourceScoresEqualNaiveOnThatSourceOnly()
    {
        var web = Run.Collector.Stats.ForSource("web");
        var scores = CriteriaScorer.Score(CriterionSpec.Parse("min-ean"), web, null);
        var expected = NaiveCriteria.Ean(Run.Recorder.Sources["web"][1]);
        var actual = scores.Layer(1).Values;
        output.WriteLine($"web EAN layer 1: max |diff| {expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max():E2}");
        for (int e = 0; e < expected.Length; e++) Assert.Equal(expected[e], actual[e], 9);
        Assert.NotEqual(CriteriaScorer.Score(CriterionSpec.Parse("min-ean"), Run.Collector.Stats, null).Layer(1).Values, actual);
    }

    private double[] Expected(CriterionSpec spec, int layerIndex)
    {
        var rec = Run.Recorder.Layers[layerIndex];
        var view = Run.Layers[layerIndex];
        int n = view.NumExperts;
        bool max = spec.Direction == DropDirection.Max;
        return spec.Kind switch
        {
            CriterionKind.Ews => NaiveCriteria.SimilaritySums(Enumerable.Range(0, n).Select(e => NaiveCriteria.FlatWeights(view, e)).ToArray()),
            CriterionKind.Rwn => NaiveCriteria.Rwn(view),
            CriterionKind.Wsr => Enumerable.Range(0, n).Select(e => NaiveCriteria.StableRank(view.DownProj(e))).ToArray(),
            CriterionKind.Ewn => Enumerable.Range(0, n).Select(e => NaiveCriteria.Norm(NaiveCriteria.FlatWeights(view, e))).ToArray(),
            CriterionKind.Euf or CriterionKind.Frequency => NaiveCriteria.Euf(rec, n),
            CriterionKind.Evtc => NaiveCriteria.Evtc(rec, n, CalibrationRun.Vocab),
            CriterionKind.Ecc => NaiveCriteria.PairRanks(NaiveCriteria.CoSelection(rec, n), NaiveCriteria.Usage(rec, n), max),
            CriterionKind.Ets => NaiveCriteria.PairRanks(NaiveCriteria.SharedTypes(rec, n), NaiveCriteria.Usage(rec, n), max),
            CriterionKind.Eas => NaiveCriteria.Eas(rec),
            CriterionKind.Eae => NaiveCriteria.Eae(rec, view.HiddenSize),
            CriterionKind.Eao => NaiveCriteria.Eao(rec),
            CriterionKind.Ean => NaiveCriteria.Ean(rec),
            CriterionKind.Reap => NaiveCriteria.Reap(rec),
            CriterionKind.Egs => NaiveCriteria.SimilaritySums(rec.Grad!),
            CriterionKind.Egn => rec.Grad!.Select(NaiveCriteria.Norm).ToArray(),
            CriterionKind.Ege => rec.Grad!.Select(g => NaiveCriteria.Ege(g, view.ExpertIntermediateSize, view.HiddenSize)).ToArray(),
            CriterionKind.Ego => rec.Grad!.Select(NaiveCriteria.Ego).ToArray(),
            _ => throw new ArgumentException(spec.Name),
        };
    }
}
