using MoePrune.Criteria;
using MoePrune.Pruning.Selectors;
using Xunit;

namespace MoePrune.Tests.Criteria;

public class CriterionSpecTests
{
    [Theory]
    [InlineData("min-ean", "min-ean")]
    [InlineData("ean", "min-ean")]
    [InlineData("EAN", "min-ean")]
    [InlineData("max-ean", "max-ean")]
    [InlineData("rwn", "max-rwn")]
    [InlineData("ets", "max-ets")]
    [InlineData("ecc", "max-ecc")]
    [InlineData("ews", "max-ews")]
    [InlineData("eas", "max-eas")]
    [InlineData("wsr", "max-wsr")]
    [InlineData("egs", "max-egs")]
    [InlineData("ege", "min-ege")]
    [InlineData("evtc", "min-evtc")]
    [InlineData("euf", "min-euf")]
    [InlineData("eae", "min-eae")]
    [InlineData("eao", "min-eao")]
    [InlineData("ewn", "min-ewn")]
    [InlineData("ego", "min-ego")]
    [InlineData("egn", "min-egn")]
    [InlineData("random", "min-random")]
    [InlineData("frequency", "min-frequency")]
    [InlineData("reap", "min-reap")]
    [InlineData("naee", "naee")]
    public void NamesParseToCanonicalForm(string text, string canonical) =>
        Assert.Equal(canonical, CriterionSpec.Parse(text).Name);

    [Theory]
    [InlineData("foo")]
    [InlineData("min-")]
    [InlineData("3")]
    [InlineData("max-naee")]
    [InlineData("mid-ean")]
    [InlineData("")]
    public void UnknownNamesAreRefused(string text)
    {
        var ex = Assert.Throws<MoePruneException>(() => CriterionSpec.Parse(text));
        Assert.StartsWith("criterion:", ex.Message);
    }

    [Fact]
    public void ListsRejectDuplicates()
    {
        Assert.Equal(2, CriterionSpec.ParseList("min-ean,max-rwn").Count);
        Assert.Throws<MoePruneException>(() => CriterionSpec.ParseList("ean,min-ean"));
    }

    [Fact]
    public void ScoresReportRoundTripsThroughJson()
    {
        var report = new ScoresReport { Metadata = new ScoresMetadata { Model = "tiny", Calibration = "synthetic", Tokens = 49 } };
        var spec = CriterionSpec.Parse("max-rwn");
        var scores = new CriterionScores { Spec = spec, Drops = DropDirection.Max };
        scores.Layers[0] = new LayerScores(0, 2, [0.25, 1.5, -3]);
        scores.Layers[4] = new LayerScores(4, 2, [1e-300, 2, 3]);
        report.Add(scores);
        report.Add(scores, "web");
        report.Naee = new() { [0] = new NaeeLayerResult { LayerIndex = 0, Keep = 2, Mode = NaeeMode.Greedy, InputRows = 7, Best = new ExpertSubset([0, 2], 0.125) }.ToReport() };
        var path = Path.Combine(Path.GetTempPath(), $"moeprune-scores-{Guid.NewGuid():N}.json");
        try
        {
            report.Save(path);
            var loaded = ScoresReport.Load(path);
            Assert.Equal(report.ToJson(), loaded.ToJson());
            var back = loaded.ToScores("max-rwn");
            Assert.Equal(DropDirection.Max, back.Drops);
            Assert.Equal(scores.Layers[4].Values, back.Layer(4).Values);
            Assert.Equal(scores.Layers[0].Values, loaded.ToScores("max-rwn", "web").Layer(0).Values);
            Assert.Equal([0, 2], loaded.Naee![0].Best.Experts);
            var missing = Assert.Throws<MoePruneException>(() => loaded.ToScores("min-ean"));
            Assert.StartsWith(path + ": no criterion min-ean (have: max-rwn, naee)", missing.Message);
            Assert.Throws<MoePruneException>(() => loaded.ToScores("naee"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public class ScoresReportTests
{
    [Fact]
    public void BuildsOverallPerSourceAndNaeeSections()
    {
        var criteria = CriterionSpec.ParseList("min-ean,max-rwn,max-ets,min-ege,naee");
        var run = new CalibrationRun(criteria, naeeTokens: 16).RunThree();
        var stats = run.Collector.Stats;
        var report = MoePrune.Jobs.ScoreJob.Report(run.Layers, stats, criteria, ScoresMetadata.From(stats, "tiny", 0),
            subsets: new MoePrune.Pruning.SelectionRequest { Keep = 4 });
        Assert.Equal(["max-ets", "max-rwn", "min-ean", "min-ege"], report.Criteria.Keys);
        Assert.Equal(["code", "web"], report.Criteria["min-ean"].Sources!.Keys);
        Assert.Null(report.Criteria["max-rwn"].Sources);
        Assert.Null(report.Criteria["min-ege"].Sources);
        var web = CriteriaScorer.Score(CriterionSpec.Parse("max-ets"), run.Collector.Stats.ForSource("web"), null);
        Assert.Equal(web.Layer(1).Values, report.ToScores("max-ets", "web").Layer(1).Values);
        Assert.Equal(run.Collector.Stats.Tokens, report.Metadata.Tokens);
        Assert.Equal(report.Metadata.Tokens, report.Metadata.SourceTokens.Values.Sum());
        Assert.Equal(4, report.Naee![0].Best.Experts.Length);
        Assert.Equal(3, MoePrune.Jobs.ScoreJob.Report(run.Layers, stats, criteria, ScoresMetadata.From(stats, "tiny", 0)).Naee![0].Best.Experts.Length); // default: half of 6
        Assert.Throws<MoePruneException>(() => MoePrune.Jobs.ScoreJob.Report(run.Layers, null, criteria, new ScoresMetadata()));
    }
}
