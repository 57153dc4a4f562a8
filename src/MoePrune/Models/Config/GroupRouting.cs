namespace MoePrune.Models;

/// <summary>How a group of experts is scored when routing first keeps the best <c>topk_group</c> groups.</summary>
public enum GroupScoring
{
    /// <summary>No group stage (plain top-k; DeepSeek-V2 <c>greedy</c>).</summary>
    None,
    /// <summary>DeepSeek-V2 <c>group_limited_greedy</c>: the largest softmax probability in the group.</summary>
    Max,
    /// <summary>DeepSeek-V3 / GLM-4.5 <c>noaux_tc</c>: the sum of the group's two largest bias-corrected scores.</summary>
    TopTwoSum,
}

/// <summary>
/// DeepSeek-style routing parameters: <see cref="NGroup"/> equal groups of consecutive experts, the best
/// <see cref="TopKGroup"/> of which hold every top-k choice (when <see cref="Scoring"/> is not None), and the factor every
/// routing weight is multiplied by. <see cref="Plain"/> is what every other family does.
/// </summary>
public sealed record GroupRouting(int NGroup, int TopKGroup, GroupScoring Scoring, double RoutedScalingFactor)
{
    public static GroupRouting Plain { get; } = new(1, 1, GroupScoring.None, 1.0);

    /// <summary>True when routing first picks groups, so surgery must keep every group the same size.</summary>
    public bool IsGroupLimited => Scoring != GroupScoring.None && NGroup > 1;

    /// <summary>The fewest experts a group may keep: 2 when its score sums the top two, else 1.</summary>
    public int MinGroupSize => Scoring == GroupScoring.TopTwoSum ? 2 : 1;

    /// <summary>Why a layer cannot hold <paramref name="experts"/> routed experts with top-<paramref name="topK"/> routing, or null.</summary>
    public string? CountProblem(int experts, int topK)
    {
        if (Scoring == GroupScoring.None) return null;
        if (experts % NGroup != 0) return $"n_group = {NGroup} must divide the expert count";
        int size = experts / NGroup;
        if (size < MinGroupSize)
            return $"each of the n_group = {NGroup} groups would hold {size} expert(s); the group score needs at least {MinGroupSize}";
        if (TopKGroup * size < topK)
            return $"topk_group = {TopKGroup} groups of {size} hold fewer than num_experts_per_tok = {topK} candidates";
        return null;
    }
}
