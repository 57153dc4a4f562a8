using MoePrune.Criteria;
using TorchSharp;
using Xunit;
using MoePrune.Criteria.Statistics;

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
