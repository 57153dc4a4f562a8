using MoePrune.Criteria;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Pruning.Selectors;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Families;

/// <summary>
/// The group rule of surgery and selection under group-limited routing: unbalanced keep-maps, groups left too small and
/// counts the groups cannot share are refused with the reason before anything is written; group-balanced selection
/// ranks within each group.
/// </summary>
public class DeepseekGroupBalanceTests(ITestOutputHelper output)
{
    const string V3 = "deepseek_v3_yarn_groups_fp32";            // 16 experts, n_group 4, topk_group 2, top-4
    const string V2 = "deepseek_v2_group_limited_bias_bf16";     // 12 experts, n_group 4 (group max), topk_group 2, top-3

    [Fact]
    public void UnbalancedKeepMapIsRefusedWithTheGroupCountsAndNothingWritten()
    {
        using var tmp = new TempDir();
        using var source = CheckpointTensorSource.Open(DeepseekFixtures.Dir(V3));
        // 12 of 16 kept, but 4 + 2 + 3 + 3 per group: the right count, not group-balanced.
        int[] kept = [0, 1, 2, 3, 4, 5, 8, 9, 10, 12, 13, 14];
        var plan = ExpertPlan.Keep(new Dictionary<int, IReadOnlyList<int>> { [1] = kept, [2] = kept });
        var e = Assert.Throws<MoePruneException>(() => ExpertSurgery.Export(source, plan, new SafetensorsCheckpointSink(tmp["out"], 1 << 30)));
        output.WriteLine(e.Message);
        Assert.Contains("layer 1: group-limited routing (n_group = 4) needs every group to keep the same number of its own experts", e.Message);
        Assert.Contains("kept per group: 4, 2, 3, 3", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(Directory.Exists(tmp["out"]));
        Assert.Empty(Directory.GetFileSystemEntries(tmp.Path));

        var selection = Assert.Throws<MoePruneException>(() =>
            GroupBalancedSelection.Validate(source.Config, new Dictionary<int, IReadOnlyList<int>> { [1] = kept }));
        Assert.Contains("kept per group: 4, 2, 3, 3", selection.Message);
    }

    [Theory]
    [InlineData(V3, new[] { 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13 }, "11 experts cannot form n_group = 4 equal groups (kept per group: 3, 3, 3, 2)")]
    [InlineData(V3, new[] { 0, 4, 8, 12 }, "each of the n_group = 4 groups would hold 1 expert(s); the group score needs at least 2")]
    [InlineData(V2, new[] { 0, 3, 6, 9 }, "topk_group = 2 groups of 1 hold fewer than num_experts_per_tok = 3 candidates")]
    public void CountsTheGroupsCannotHoldAreRefused(string name, int[] kept, string reason)
    {
        using var source = CheckpointTensorSource.Open(DeepseekFixtures.Dir(name));
        var layers = source.Config.MoeLayerIndices.ToDictionary(l => l, _ => (IReadOnlyList<int>)kept);
        var e = Assert.Throws<MoePruneException>(() => ExpertSurgery.Validate(source.Config, ExpertPlan.Keep(layers), false));
        output.WriteLine(e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void V2GroupMaxAllowsOneExpertPerGroupAndGreedyRoutingHasNoGroupRule()
    {
        using var source = CheckpointTensorSource.Open(DeepseekFixtures.Dir(V2));
        var config = source.Config.WithExperts(12);
        Assert.Null(config.Groups.CountProblem(8, config.TopK));                         // 2 per group, group max needs 1
        // greedy V2 routing ignores n_group: any keep-map is balanced
        var greedy = MoeConfig.Parse(WithKey(source.Config, "topk_method", "greedy"), "greedy.json");
        Assert.False(greedy.Groups.IsGroupLimited);
        ExpertSurgery.Validate(greedy, ExpertPlan.Keep(greedy.MoeLayerIndices.ToDictionary(l => l, _ => (IReadOnlyList<int>)[0, 1, 2, 3, 4, 5, 6, 8, 11])), false);
    }

    /// <summary>Selection against a naive per-group ranking written here: each group drops its lowest (min-) or highest (max-) scores.</summary>
    [Theory]
    [InlineData(DropDirection.Min)]
    [InlineData(DropDirection.Max)]
    public void GroupBalancedSelectionRanksWithinEveryGroup(DropDirection direction)
    {
        var rng = new Random(19);
        var scores = new Dictionary<int, double[]>
        {
            [1] = Enumerable.Range(0, 16).Select(_ => Math.Round(rng.NextDouble(), 1)).ToArray(),  // rounded: ties occur
            [2] = Enumerable.Range(0, 16).Select(_ => rng.NextDouble()).ToArray(),
        };
        var selected = GroupBalancedSelection.Select(scores, direction, nGroup: 4, dropPerGroup: 2);
        foreach (var (layer, v) in scores)
        {
            var removed = new List<int>();
            for (int g = 0; g < 4; g++)
            {
                var members = Enumerable.Range(4 * g, 4).ToList();
                var ranked = direction == DropDirection.Min
                    ? members.OrderBy(e => v[e]).ThenBy(e => e) : members.OrderByDescending(e => v[e]).ThenBy(e => e);
                removed.AddRange(ranked.Take(2));
            }
            Assert.Equal(removed.Order(), selected[layer].Removed);
            Assert.Equal(8, selected[layer].Kept.Length);
            output.WriteLine($"{direction} layer {layer}: removed [{string.Join(", ", selected[layer].Removed)}]");
        }
        Assert.Throws<MoePruneException>(() => GroupBalancedSelection.Select(scores, direction, nGroup: 3, dropPerGroup: 1));
        Assert.Throws<MoePruneException>(() => GroupBalancedSelection.Select(scores, direction, nGroup: 4, dropPerGroup: 4));
    }

    [Fact]
    public void DropsPerGroupRefusesCountsTheGroupsCannotShare()
    {
        using var source = CheckpointTensorSource.Open(DeepseekFixtures.Dir(V3));
        Assert.Equal(1, GroupBalancedSelection.DropsPerGroup(source.Config, 4));
        Assert.Contains("needs a multiple of 4", Assert.Throws<MoePruneException>(() => GroupBalancedSelection.DropsPerGroup(source.Config, 6)).Message);
        Assert.Contains("at least 2", Assert.Throws<MoePruneException>(() => GroupBalancedSelection.DropsPerGroup(source.Config, 12)).Message);
    }

    static System.Text.Json.Nodes.JsonObject WithKey(MoeConfig config, string key, string value)
    {
        var json = (System.Text.Json.Nodes.JsonObject)config.Source.DeepClone();
        json[key] = value;
        return json;
    }
}
