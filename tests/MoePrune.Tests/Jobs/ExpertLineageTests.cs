using MoePrune.Jobs;
using MoePrune.Pruning;
using Xunit;

namespace MoePrune.Tests.Jobs;

/// <summary>The lineage's bookkeeping against hand-computed answers.</summary>
public class ExpertLineageTests
{
    [Fact]
    public void RemovalsComposeAcrossRounds()
    {
        var lineage = ExpertLineage.Identity(new Dictionary<int, int> { [1] = 6, [3] = 6 });
        // round 1 removes original 1 and 4 of layer 1; layer 3 untouched
        var r1 = lineage.Keep(new Dictionary<int, LayerSelection> { [1] = LayerSelection.FromRemoved(1, 6, [1, 4]) });
        // by hand: layer 1 slots now hold originals 0, 2, 3, 5; round 2 removes slot 2 (original 3)
        Assert.Equal([0, 2, 3, 5], Enumerable.Range(0, r1.Slots(1)).Select(s => r1.Originals(1, s).Single()));
        var r2 = r1.Keep(new Dictionary<int, LayerSelection>
        {
            [1] = LayerSelection.FromRemoved(1, 4, [2]),
            [3] = LayerSelection.FromRemoved(3, 6, [0]),
        });
        Assert.Equal([0, 2, 5], r2.KeptOriginals(1));
        Assert.Equal([1, 3, 4], r2.RemovedOriginals(1));
        Assert.Equal([3], r1.Originals(1, [2]));                                          // round 2's cut in original indices
        Assert.Equal([1, 2, 3, 4, 5], r2.KeptOriginals(3));
        Assert.Equal(2, r2.SlotOf(1, 5));
        Assert.Equal(-1, r2.SlotOf(1, 3));
        Assert.Equal(6, r2.OriginalCount(1));
        Assert.Equal(6, lineage.Slots(1));                                                // immutable: the input is unchanged
    }

    [Fact]
    public void MergedGroupsHoldEveryOriginalAndSurviveLaterRemovals()
    {
        var lineage = ExpertLineage.Identity(new Dictionary<int, int> { [0] = 5 })
            .Keep(new Dictionary<int, LayerSelection> { [0] = LayerSelection.FromRemoved(0, 5, [0]) }) // slots: 1,2,3,4
            .Merge(0, [[0, 3], [1], [2]]);                                                 // slots: {1,4}, {2}, {3}
        Assert.Equal([1, 4], lineage.Originals(0, 0));
        var after = lineage.Keep(new Dictionary<int, LayerSelection> { [0] = LayerSelection.FromRemoved(0, 3, [1]) });
        Assert.Equal([1, 3, 4], after.KeptOriginals(0));
        Assert.Equal([0, 2], after.RemovedOriginals(0));
        Assert.Throws<MoePruneException>(() => lineage.Merge(0, [[0, 0]]));
    }

    [Fact]
    public void JsonRoundTripsAndBadInputIsRefused()
    {
        var lineage = ExpertLineage.Identity(new Dictionary<int, int> { [2] = 4 }).Merge(2, [[0, 2], [1], [3]]);
        var back = ExpertLineage.FromJson(lineage.ToJson(), "lineage.json");
        Assert.Equal(lineage.ToJson().ToJsonString(), back.ToJson().ToJsonString());
        Assert.Equal([0, 2], back.Originals(2, 0));
        var ex = Assert.Throws<MoePruneException>(() => ExpertLineage.FromJson(new System.Text.Json.Nodes.JsonObject(), "lineage.json"));
        Assert.StartsWith("lineage.json: not an expert lineage", ex.Message);
        Assert.Throws<MoePruneException>(() => lineage.Keep(new Dictionary<int, LayerSelection> { [2] = LayerSelection.FromRemoved(2, 4, [0]) }));
    }
}
