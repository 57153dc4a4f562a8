using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Pruning;
using MoePrune.Pruning.Selectors;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Criteria;

/// <summary>Cases built so that one expert must be chosen by a criterion.</summary>
public class PlantedCaseTests(CalibrationFixture fixture, ITestOutputHelper output) : IClassFixture<CalibrationFixture>
{
    private static int[] DropOne(CriterionScores scores, int layer) =>
        ExpertSelection.Select(scores, new SelectionRequest { Drop = 1 })[layer].Removed;

    [Fact]
    public void ZeroDownProjectionIsChosenByMinEanAndMinEwn()
    {
        var run = new CalibrationRun([CriterionSpec.Parse("min-ean"), CriterionSpec.Parse("min-ewn")]);
        run.Layers[0].Set((_, _, _, down) => down[4].zero_());
        run.RunThree(gradients: false);
        var ean = CriteriaScorer.Score(CriterionSpec.Parse("min-ean"), run.Collector.Stats, run.Layers);
        var ewn = CriteriaScorer.Score(CriterionSpec.Parse("min-ewn"), null, run.Layers);
        output.WriteLine($"EAN {string.Join(", ", ean.Layer(0).Values)}; EWN {string.Join(", ", ewn.Layer(0).Values)}");
        Assert.True(run.Collector.Stats.Layers[0].Routing.Count[4] > 0, "the planted expert must be routed");
        Assert.Equal([4], DropOne(ean, 0));
        Assert.Equal([4], DropOne(ewn, 0));
    }

    [Fact]
    public void DuplicatedExpertIsChosenByMaxEws()
    {
        var layer = new FakeMoeLayer(0, 6, 2, 8, 5, seed: 3);
        layer.Set((router, gate, up, down) =>
        {
            gate[2].copy_(gate[5]); up[2].copy_(up[5]); down[2].copy_(down[5]);
        });
        var ews = CriteriaScorer.Score(CriterionSpec.Parse("max-ews"), null, [layer]);
        output.WriteLine($"EWS {string.Join(", ", ews.Layer(0).Values)}");
        Assert.Contains(DropOne(ews, 0)[0], new[] { 2, 5 });
    }

    [Fact]
    public void DuplicatedExpertIsChosenByMaxEas()
    {
        // experts 1 and 3 are duplicates: the same output direction d for every token (plus small noise);
        // the others produce unrelated random vectors.
        var rng = new Random(5);
        const int h = 12, n = 60;
        var d = SyntheticEvents.Random(rng, h);
        var topK = Enumerable.Range(0, n).Select(i => new[] { i % 5, (i % 5 + 1 + i / 5 % 4) % 5 }).ToArray();
        var ev = SyntheticEvents.Create(0, 5, Enumerable.Range(0, n).Select(i => (long)(i % 30)).ToArray(), topK,
            (i, e) => e is 1 or 3 ? d.Zip(SyntheticEvents.Random(rng, h, 0.1), (a, b) => a + b).ToArray() : SyntheticEvents.Random(rng, h), h);
        var collector = new CriteriaCollector([CriterionSpec.Parse("max-eas")], 30);
        collector.OnRouting(ev);
        var eas = CriteriaScorer.Score(CriterionSpec.Parse("max-eas"), collector.Stats, null);
        output.WriteLine($"EAS {string.Join(", ", eas.Layer(0).Values)}");
        Assert.Contains(DropOne(eas, 0)[0], new[] { 1, 3 });
    }

    [Fact]
    public void NeverRoutedExpertIsChosenByMinEufAndMinEvtcAndHasFiniteScores()
    {
        var rng = new Random(9);
        const int h = 6, n = 40;
        // expert 4 is never chosen; expert 2 gets exactly one token (row 0)
        int[] others = [0, 1, 3, 5];
        var topK = Enumerable.Range(0, n).Select(i => i == 0 ? new[] { 2, 0 }
            : new[] { others[i % 4], others[(i % 4 + 1 + i / 4 % 3) % 4] }).ToArray();
        var ev = SyntheticEvents.Create(0, 6, Enumerable.Range(0, n).Select(i => (long)(i % 25)).ToArray(), topK,
            (_, _) => SyntheticEvents.Random(rng, h), h);
        var all = CalibrationRun.AllCriteria.Where(c => CriterionInfo.Group(c.Kind) is CriterionGroup.Inference or CriterionGroup.Activation
            || c.Kind is CriterionKind.Reap or CriterionKind.Frequency).ToList();
        var collector = new CriteriaCollector(all, 25);
        collector.OnRouting(ev);
        var stats = collector.Stats;
        Assert.Equal(0, stats.Layers[0].Routing.Count[4]);
        Assert.Equal(1, stats.Layers[0].Routing.Count[2]);
        Assert.Equal([4], DropOne(CriteriaScorer.Score(CriterionSpec.Parse("min-euf"), stats, null), 0));
        Assert.Equal([4], DropOne(CriteriaScorer.Score(CriterionSpec.Parse("min-evtc"), stats, null), 0));
        double floorSum = h * Math.Log(StatsCriteria.StdFloor);
        foreach (var spec in all)
        {
            var v = CriteriaScorer.Score(spec, stats, null).Layer(0).Values;
            output.WriteLine($"{spec.Name}: {string.Join(", ", v)}");
            Assert.All(v, x => Assert.True(double.IsFinite(x), $"{spec.Name} not finite"));
            if (spec.Kind == CriterionKind.Eae) { Assert.Equal(floorSum, v[4], 9); Assert.Equal(floorSum, v[2], 9); }
            if (spec.Kind is CriterionKind.Ean or CriterionKind.Eao or CriterionKind.Eas or CriterionKind.Reap
                or CriterionKind.Euf or CriterionKind.Evtc or CriterionKind.Frequency)
                Assert.Equal(0.0, v[4]);
        }
    }

    [Fact]
    public void ZeroGradientsGiveDocumentedFiniteScores()
    {
        var run = new CalibrationRun([CriterionSpec.Parse("min-ege"), CriterionSpec.Parse("max-egs"), CriterionSpec.Parse("min-egn"), CriterionSpec.Parse("min-ego")]);
        run.RunBatch(21);
        foreach (var name in new[] { "min-ege", "max-egs", "min-egn", "min-ego" })
        {
            // expert 0 of layer 0 gets its gradient zeroed: as if it had never been routed
            Array.Clear(run.Collector.Stats.Layers[0].Find<GradientSums>(GradientSums.Kind)!.Sums![0]);
            var v = CriteriaScorer.Score(CriterionSpec.Parse(name), run.Collector.Stats, null).Layer(0).Values;
            Assert.All(v, x => Assert.True(double.IsFinite(x)));
            double expected = name == "min-ege" ? run.Layers[0].HiddenSize * Math.Log(StatsCriteria.StdFloor) : 0.0;
            Assert.Equal(expected, v[0], 9);
        }
    }

    [Fact]
    public void EaoCountsOutliersAgainstEachTokensOwnMeanAndStd()
    {
        // expert 0: row [0 × 11, 10]: μ = 0.833, σ = 2.764, 3σ = 8.29 → only the 10 is an outlier;
        // expert 1: a constant row → none; expert 2: the same spike row twice → 2
        const int h = 12;
        float[] spike = [.. Enumerable.Repeat(0f, h - 1), 10f];
        var ev = SyntheticEvents.Create(0, 3, [1, 2], [[0, 1], [1, 2]], (i, e) => e switch
        {
            0 => spike,
            1 => Enumerable.Repeat(0.7f, h).ToArray(),
            _ => spike,
        }, h);
        var collector = new CriteriaCollector([CriterionSpec.Parse("eao")], 4);
        collector.OnRouting(ev);
        collector.OnRouting(SyntheticEvents.Create(0, 3, [3], [[2, 0]], (i, e) => e == 2 ? spike : new float[h], h));
        Assert.Equal([1.0, 0.0, 2.0], CriteriaScorer.Score(CriterionSpec.Parse("eao"), collector.Stats, null).Layer(0).Values);
    }

    [Theory]
    [InlineData("ews")] [InlineData("rwn")] [InlineData("wsr")] [InlineData("ewn")]
    [InlineData("euf")] [InlineData("ecc")] [InlineData("evtc")] [InlineData("ets")]
    [InlineData("eas")] [InlineData("eae")] [InlineData("eao")] [InlineData("ean")]
    [InlineData("egs")] [InlineData("ege")] [InlineData("ego")] [InlineData("egn")]
    [InlineData("reap")] [InlineData("random")]
    public void MinAndMaxChooseDifferently(string name)
    {
        var run = fixture.Run;
        var min = CriteriaScorer.Score(CriterionSpec.Parse("min-" + name), run.Collector.Stats, run.Layers, seed: 1);
        var max = CriteriaScorer.Score(CriterionSpec.Parse("max-" + name), run.Collector.Stats, run.Layers, seed: 1);
        var a = ExpertSelection.Select(min, new SelectionRequest { Drop = 1 });
        var b = ExpertSelection.Select(max, new SelectionRequest { Drop = 1 });
        output.WriteLine($"{name}: min drops {string.Join(";", a.Values.Select(l => l.Removed[0]))}, max drops {string.Join(";", b.Values.Select(l => l.Removed[0]))}");
        Assert.Contains(a.Keys, l => a[l].Removed[0] != b[l].Removed[0]);
    }
}
