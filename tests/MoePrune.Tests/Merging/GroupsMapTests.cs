using System.Text.Json.Nodes;
using MoePrune.Merging.Partition;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Merging;

public class GroupsMapTests(ITestOutputHelper output)
{
    // 4 decoder layers: layer 0 dense, layers 1–3 with 8 experts, top-2
    private static readonly Dictionary<int, int> Sparse = new() { [1] = 8, [2] = 8, [3] = 8 };

    private static SortedDictionary<int, ExpertGrouping> Check(string json) =>
        GroupsMap.Validate("groups.json", GroupsMap.Parse(JsonNode.Parse(json)!.AsObject(), "groups.json"), 4, Sparse, 2);

    [Fact]
    public void AValidMapIsCanonicalisedAndSingletonsAreAllowed()
    {
        var map = Check("""{"3": [[7, 1], [0], [2, 3, 4], [6, 5]], "2": [[0], [1], [2], [3], [4], [5], [6], [7]]}""");
        Assert.Equal("{0} {1,7} {2,3,4} {5,6}", map[3].ToString());
        Assert.Equal(8, map[2].Count);
        Assert.Equal([2, 3], map.Keys);
    }

    [Theory]
    [InlineData("""{"1": [[0, 1], [2, 3], [4, 5], [6]]}""", "groups.json: layer 1: expert(s) 7 are in no group")]
    [InlineData("""{"1": [[0, 1], [1, 2], [3, 4, 5, 6, 7]]}""", "groups.json: layer 1: expert(s) 1 appear more than once")]
    [InlineData("""{"1": [[9, 8], [1, 2, 3], [4, 5, 6, 7]]}""", "groups.json: layer 1: expert(s) 8, 9 do not exist (the layer has 8 experts, 0..7); layer 1: expert(s) 0 are in no group")]
    [InlineData("""{"1": [[], [0, 1, 2, 3], [4, 5, 6, 7]]}""", "groups.json: layer 1: group 0 is empty")]
    [InlineData("""{"0": [[0], [1]]}""", "groups.json: layer 0 is a dense layer and has no routed experts to merge")]
    [InlineData("""{"9": [[0], [1]]}""", "groups.json: layer 9 does not exist (the model has 4 layers)")]
    [InlineData("""{"2": [[0, 1, 2, 3, 4, 5, 6, 7]]}""", "groups.json: layer 2: 1 group(s) are fewer than top-k = 2 (every token needs 2 distinct experts)")]
    public void EachProblemIsOneClearLine(string json, string expected)
    {
        var e = Assert.Throws<MoePruneException>(() => Check(json));
        output.WriteLine(e.Message);
        Assert.Equal(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("""{"x": [[0]]}""", "groups.json: key 'x' is not a decoder-layer index")]
    [InlineData("""{"01": [[0]]}""", "groups.json: key '01' is not a decoder-layer index")]
    [InlineData("""{"1": [0, 1]}""", "groups.json: layer 1: '0' is not a group (a list of expert indices)")]
    [InlineData("""{"1": [["a"]]}""", "groups.json: layer 1: '\"a\"' is not an expert index")]
    [InlineData("""{"1": {"0": [1]}}""", "groups.json: layer 1: expected a list of groups (lists of expert indices)")]
    [InlineData("""{}""", "groups.json: the groups map names no layer")]
    public void MalformedMapsAreRefused(string json, string expected)
    {
        var e = Assert.Throws<MoePruneException>(() => Check(json));
        output.WriteLine(e.Message);
        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void SeveralProblemsShowTheFirstThreeAndListAllInDetails()
    {
        var e = Assert.Throws<MoePruneException>(() => Check("""{"0": [[0]], "1": [[0, 1], [1]], "2": [[0]], "9": [[0]]}"""));
        output.WriteLine(e.Message);
        foreach (var d in e.Details) output.WriteLine("  " + d);
        Assert.EndsWith("and 3 more problem(s)", e.Message);
        Assert.Equal(6, e.Details.Count);
        Assert.Contains("layer 2: 1 group(s) are fewer than top-k = 2 (every token needs 2 distinct experts)", e.Details);
    }

    [Fact]
    public void LoadNamesTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"moeprune-groups-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{"1": [[0, 1], [2, 3], [4, 5], [6, 7]]}""");
        try
        {
            var map = GroupsMap.Load(path);
            Assert.Equal(4, map[1].Length);
            var e = Assert.Throws<MoePruneException>(() => GroupsMap.Validate(path, map, 4, new Dictionary<int, int> { [1] = 9 }, 2));
            Assert.Equal($"{path}: layer 1: expert(s) 8 are in no group", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ARequestedGroupCountMustLieBetweenTopKAndTheExpertCount()
    {
        Assert.Null(GroupValidation.GroupCount(1, 6, 8, 2));
        Assert.Null(GroupValidation.GroupCount(1, 2, 8, 2));
        Assert.Equal("layer 1: 1 merged experts are fewer than top-k = 2 (every token needs 2 distinct experts)", GroupValidation.GroupCount(1, 1, 8, 2));
        Assert.Equal("layer 1: 8 merged experts do not reduce its 8 experts (need fewer than 8)", GroupValidation.GroupCount(1, 8, 8, 2));
        Assert.Equal("layer 1: 9 merged experts do not reduce its 8 experts (need fewer than 8)", GroupValidation.GroupCount(1, 9, 8, 2));
    }
}
