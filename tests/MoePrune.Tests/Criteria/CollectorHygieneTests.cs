using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using TorchSharp;
using Xunit;

namespace MoePrune.Tests.Criteria;

public class CollectorHygieneTests
{
    [Fact]
    public void CollectingDoesNotLeakTensors()
    {
        var rng = new Random(2);
        var ev = SyntheticEvents.Create(0, 4, [1, 2, 3], [[0, 1], [2, 3], [1, 2]], (_, _) => SyntheticEvents.Random(rng, 8), 8);
        var collector = new CriteriaCollector(CalibrationRun.AllCriteria.Where(c => CriterionInfo.Group(c.Kind) != CriterionGroup.Gradient).ToList(), 5);
        collector.OnRouting(ev);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 5; i++) collector.OnRouting(ev);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void PerSourceCollectingAndTheStatisticsFileDoNotLeakTensors()
    {
        var rng = new Random(3);
        var ev = SyntheticEvents.Create(0, 4, [1, 2, 3], [[0, 1], [2, 3], [1, 2]], (_, _) => SyntheticEvents.Random(rng, 8), 8);
        var criteria = CalibrationRun.AllCriteria.Where(c => CriterionInfo.Group(c.Kind) != CriterionGroup.Gradient).ToList();
        var collector = new CriteriaCollector(criteria, 5, inputSampleRows: 4) { CurrentSource = "web" };
        collector.OnRouting(ev);
        var path = Path.Combine(Path.GetTempPath(), $"moeprune-leak-{Guid.NewGuid():N}.safetensors");
        try
        {
            CriteriaStatsFile.Save(collector.Stats, path);
            CriteriaStatsFile.Load(path);
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            for (int i = 0; i < 3; i++) collector.OnRouting(ev);
            CriteriaStatsFile.Save(collector.Stats, path);
            var loaded = CriteriaStatsFile.Load(path);
            Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            Assert.Equal(12, loaded.Sources["web"][0].Tokens);
            Assert.Equal(4, CriteriaStatsMergeTests.Sample(loaded.Layers[0]).Rows);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void RandomBaselineIsSeededPerLayer()
    {
        var expected = new Random(7 * 1_000_003 + 3);
        Assert.Equal(Enumerable.Range(0, 5).Select(_ => expected.NextDouble()), CriteriaScorer.RandomValues(7, 3, 5));
        Assert.NotEqual(CriteriaScorer.RandomValues(7, 3, 5), CriteriaScorer.RandomValues(8, 3, 5));
    }

    [Fact]
    public void OnlyActivationCriteriaAskForExpertOutputs()
    {
        Assert.Equal(MoePrune.Observation.ObserverNeeds.Routing, new CriteriaCollector(CriterionSpec.ParseList("euf,ets,ecc,evtc,naee,egn"), 5).Needs);
        Assert.Equal(MoePrune.Observation.ObserverNeeds.ExpertOutputs, new CriteriaCollector(CriterionSpec.ParseList("euf,reap"), 5).Needs);
        Assert.Throws<MoePruneException>(() => new CriteriaCollector(CriterionSpec.ParseList("euf"), 5).AccumulateGradients([]));
    }
}
