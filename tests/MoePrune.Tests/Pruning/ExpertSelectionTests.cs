using MoePrune.Criteria;
using MoePrune.Pruning;
using MoePrune.Pruning.Selectors;
using Xunit;

namespace MoePrune.Tests.Pruning;

public class ExpertSelectionTests
{
    private static CriterionScores Scores(string name, params (int TopK, double[] Values)[] layers)
    {
        var spec = CriterionSpec.Parse(name);
        var s = new CriterionScores { Spec = spec, Drops = spec.Direction };
        for (int l = 0; l < layers.Length; l++) s.Layers[l] = new LayerScores(l, layers[l].TopK, layers[l].Values);
        return s;
    }

    private static readonly double[] A = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2];

    [Fact]
    public void UniformDropRemovesTheLowestOrHighest()
    {
        var min = ExpertSelection.Select(Scores("min-ean", (2, A)), new SelectionRequest { Drop = 2 })[0];
        Assert.Equal([1, 5], min.Removed);
        Assert.Equal([0, 2, 3, 4], min.Kept);
        var max = ExpertSelection.Select(Scores("max-rwn", (2, A)), new SelectionRequest { Drop = 2 })[0];
        Assert.Equal([2, 4], max.Removed);
    }

    [Fact]
    public void KeepAndRatioGiveTheSameCounts()
    {
        var keep = ExpertSelection.Select(Scores("min-ean", (2, A)), new SelectionRequest { Keep = 3 })[0];
        var ratio = ExpertSelection.Select(Scores("min-ean", (2, A)), new SelectionRequest { Ratio = 0.5 })[0];
        Assert.Equal([1, 3, 5], keep.Removed);
        Assert.Equal(keep.Removed, ratio.Removed);
        var floor = ExpertSelection.Select(Scores("min-ean", (2, A)), new SelectionRequest { Ratio = 0.4 })[0];
        Assert.Equal([1, 5], floor.Removed);                                                // ⌊6·0.4⌋ = 2
    }

    [Fact]
    public void TiesDropTheLowerIndexFirst()
    {
        var s = ExpertSelection.Select(Scores("min-euf", (1, [1.0, 0.0, 0.0, 0.0])), new SelectionRequest { Drop = 2 })[0];
        Assert.Equal([1, 2], s.Removed);
    }

    [Fact]
    public void ProtectedExpertsAreSkipped()
    {
        var s = ExpertSelection.Select(Scores("min-ean", (2, A), (2, A)),
            new SelectionRequest { Drop = 2, Protect = SelectionRequest.ParseProtect("1:1") });
        Assert.Equal([1, 5], s[0].Removed);
        Assert.Equal([3, 5], s[1].Removed);
    }

    [Fact]
    public void GlobalBudgetRanksZScoresAndRespectsTopK()
    {
        // layer 0: z = [−1.73, .58, .58, .58]; layer 1: z = [−1.34, −.45, .45, 1.34]
        double[] l0 = [0, 10, 10, 10], l1 = [1, 2, 3, 4];
        var loose = ExpertSelection.Select(Scores("min-ean", (1, l0), (1, l1)), new SelectionRequest { Keep = 2, Global = true });
        Assert.Equal([0], loose[0].Removed);
        Assert.Equal([0, 1, 2], loose[1].Removed);
        var tight = ExpertSelection.Select(Scores("min-ean", (1, l0), (2, l1)), new SelectionRequest { Keep = 2, Global = true });
        Assert.Equal([0, 1], tight[0].Removed);
        Assert.Equal([0, 1], tight[1].Removed);
        // max: z = −0.58 for each 10, −1.34 for 4, −0.45 for 3; budget 2 + 2: the three 10s go before 3
        var max = ExpertSelection.Select(Scores("max-ean", (1, l0), (1, l1)), new SelectionRequest { Ratio = 0.5, Global = true });
        Assert.Equal([1, 2, 3], max[0].Removed);
        Assert.Equal([3], max[1].Removed);
    }

    [Fact]
    public void PairCriterionRanksDropRankZeroFirst()
    {
        var scores = new CriterionScores { Spec = CriterionSpec.Parse("max-ecc"), Drops = DropDirection.Min };
        scores.Layers[0] = new LayerScores(0, 2, [3, 0, 4, 1, 2]);
        Assert.Equal([1, 3], ExpertSelection.Select(scores, new SelectionRequest { Drop = 2 })[0].Removed);
    }

    [Fact]
    public void StoredNaeeSubsetBecomesTheSelectionOnlyAtItsKeptCount()
    {
        var r = new NaeeLayerResult { LayerIndex = 3, Keep = 2, Mode = NaeeMode.Exhaustive, InputRows = 1, Best = new ExpertSubset([1, 4], 0.5) };
        var stored = new Dictionary<int, NaeeLayerReport> { [3] = r.ToReport() };
        var layers = new Dictionary<int, (int, int)> { [3] = (5, 2) };
        var s = NaeeSelector.FromReport(stored, layers, new SelectionRequest { Keep = 2 }, "s.json")[3];
        Assert.Equal([1, 4], s.Kept);
        Assert.Equal([0, 2, 3], s.Removed);
        Assert.Equal([1, 4], NaeeSelector.FromReport(stored, layers, new SelectionRequest { Drop = 3, Protect = [new(3, 4)] }, "s.json")[3].Kept);
        foreach (var (request, expected) in new (SelectionRequest, string)[]
        {
            (new() { Keep = 3 }, "s.json: layer 3: naee searched subsets of 2 experts, this selection keeps 3"),
            (new() { Keep = 2, Protect = [new(3, 0)] }, "s.json: layer 3: the stored naee subset leaves out protected expert(s) 0"),
            (new() { Keep = 2, Global = true }, "global: naee chooses each layer's subset itself"),
        })
        {
            var ex = Assert.Throws<MoePruneException>(() => NaeeSelector.FromReport(stored, layers, request, "s.json"));
            Assert.StartsWith(expected, ex.Message);
        }
        var other = Assert.Throws<MoePruneException>(() => NaeeSelector.FromReport(stored, new Dictionary<int, (int, int)> { [2] = (5, 2) }, new() { Keep = 2 }, "s.json"));
        Assert.StartsWith("s.json: naee subsets cover layers 3, not layer 2", other.Message);
    }

    [Fact]
    public void ErrorsSpellSettingsAsTheCallerNamesThem()
    {
        var names = new OptionNames(new Dictionary<string, string> { [OptionNames.Drop] = "--drop", [OptionNames.Keep] = "--keep" });
        var neutral = Assert.Throws<MoePruneException>(() => ExpertSelection.Select(Scores("min-ean", (2, A)), new SelectionRequest { Drop = -1 }));
        Assert.StartsWith("drop: -1 must not be negative", neutral.Message);
        var cli = Assert.Throws<MoePruneException>(() => ExpertSelection.Select(Scores("min-ean", (2, A)), new SelectionRequest { Drop = -1, Names = names }));
        Assert.StartsWith("--drop: -1 must not be negative", cli.Message);
        var none = Assert.Throws<MoePruneException>(() => new SelectionRequest { Names = names }.Check());
        Assert.Equal("selection: give exactly one of --drop, --keep or ratio", none.Message);
    }

    [Theory]
    [InlineData(6, null, null, false, null, "drop:")]
    [InlineData(5, null, null, false, null, "top-k")]
    [InlineData(null, 1, null, false, null, "keep:")]
    [InlineData(null, 7, null, false, null, "keep:")]
    [InlineData(null, null, 1.0, false, null, "ratio:")]
    [InlineData(-1, null, null, false, null, "drop:")]
    [InlineData(2, 3, null, false, null, "exactly one")]
    [InlineData(null, null, null, false, null, "exactly one")]
    [InlineData(1, null, null, false, "9:0", "no MoE layer 9")]
    [InlineData(1, null, null, false, "0:6", "only 6 experts")]
    [InlineData(3, null, null, false, "0:0,0:1,0:2,0:3", "protected")]
    [InlineData(4, null, null, true, "0:0,0:1,0:2,0:3", "global budget")]
    public void InvalidRequestsAreRefusedWithOneLine(int? drop, int? keep, double? ratio, bool global, string? protect, string expected)
    {
        var request = new SelectionRequest { Drop = drop, Keep = keep, Ratio = ratio, Global = global, Protect = SelectionRequest.ParseProtect(protect) };
        var ex = Assert.Throws<MoePruneException>(() => ExpertSelection.Select(Scores("min-ean", (2, A)), request));
        Assert.Contains(expected, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void BadProtectSyntaxIsRefused()
    {
        Assert.Throws<MoePruneException>(() => SelectionRequest.ParseProtect("3-7"));
        Assert.Throws<MoePruneException>(() => SelectionRequest.ParseProtect("a:1"));
        Assert.Equal([new ProtectedExpert(3, 7), new ProtectedExpert(10, 0)], SelectionRequest.ParseProtect(" 3:7, 10:0 "));
    }
}
