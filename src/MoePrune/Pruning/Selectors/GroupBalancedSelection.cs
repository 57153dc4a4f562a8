using MoePrune.Criteria;
using MoePrune.Models;

namespace MoePrune.Pruning.Selectors;

/// <summary>
/// Expert selection under group-limited routing (DeepSeek-V2 <c>group_limited_greedy</c>, DeepSeek-V3 / Kimi-K2 /
/// GLM-4.5 with <c>n_group</c> &gt; 1; <c>--group-balanced</c>, on by default for these families): each of the n_group groups
/// of E/n_group consecutive experts drops the same number of its own experts, ranked within the group by the criterion,
/// so that surgery keeps the groups aligned (<see cref="GroupBalance"/>). With one group it is plain per-layer selection.
/// </summary>
public static class GroupBalancedSelection
{
    /// <summary>The method name recorded for a criterion's selection under group-limited routing.</summary>
    public const string Method = "group-balanced";

    /// <summary>
    /// Per layer of <paramref name="scores"/>, the count <paramref name="request"/> asks for, removed as the same number
    /// from every group of <paramref name="groups"/>, each group in the criterion's drop order
    /// (<see cref="CriterionScores.DropOrder"/>). Protected experts go last and are never removed (refused when a group
    /// must remove more than its unprotected experts). Refused: a global budget (it cannot keep every layer balanced), a
    /// count that is not a multiple of n_group, and group sizes the routing cannot use.
    /// </summary>
    public static SortedDictionary<int, LayerSelection> Select(CriterionScores scores, SelectionRequest request, GroupRouting groups)
    {
        var names = request.Names;
        int g = groups.NGroup;
        if (request.Global)
            throw new MoePruneException($"{names[OptionNames.Global]}: group-limited routing (n_group = {g}) needs the same number of experts "
                                        + "removed from every group of every layer; a global budget cannot keep the groups balanced");
        if (scores.Layers.Count == 0)
            throw new MoePruneException($"selection: criterion {scores.Spec.Name} has no layers");
        var protect = SelectionChecks.ProtectedByLayer(scores.Layers.ToDictionary(l => l.Key, l => l.Value.Values.Length), request);
        var result = new SortedDictionary<int, LayerSelection>();
        foreach (var (index, layer) in scores.Layers)
        {
            int n = layer.Values.Length;
            int drops = SelectionChecks.CheckedDrops(request, index, n, layer.TopK, protect[index].Count);
            if (drops % g != 0)
                throw new MoePruneException($"selection: removing {drops} of layer {index}'s {n} experts is not group-balanced: group-limited "
                                            + $"routing (n_group = {g}) needs a multiple of {g}, the same number from every group");
            if (groups.CountProblem(n - drops, layer.TopK) is string problem)
                throw new MoePruneException($"selection: layer {index} cannot keep {n - drops} experts: {problem}");
            var order = scores.DropOrder(index);
            var protectedLast = order.Where(e => !protect[index].Contains(e)).Concat(order.Where(protect[index].Contains)).ToArray();
            var selection = SelectLayer(index, protectedLast, n, g, drops / g);
            if (selection.Removed.FirstOrDefault(protect[index].Contains, -1) is int lost and >= 0)
                throw new MoePruneException($"{names[OptionNames.Protect]}: layer {index}: group {lost / (n / g)} has more protected experts than "
                                            + $"the {(n - drops) / g} it keeps");
            result[index] = selection;
        }
        return result;
    }

    /// <summary>
    /// Per layer, the selection that drops <paramref name="dropPerGroup"/> experts from every group: the group's experts
    /// in the criterion's order — ascending scores for <see cref="DropDirection.Min"/>, descending for Max, ties to the
    /// lower index — and the first ones dropped.
    /// </summary>
    /// <param name="scores">Per MoE layer, one score per expert.</param>
    public static SortedDictionary<int, LayerSelection> Select(IReadOnlyDictionary<int, double[]> scores, DropDirection direction,
                                                               int nGroup, int dropPerGroup)
    {
        var result = new SortedDictionary<int, LayerSelection>();
        foreach (var (layer, v) in scores)
        {
            var order = Enumerable.Range(0, v.Length);
            var dropOrder = (direction == DropDirection.Min ? order.OrderBy(e => v[e]) : order.OrderByDescending(e => v[e])).ThenBy(e => e);
            result[layer] = SelectLayer(layer, dropOrder.ToArray(), v.Length, nGroup, dropPerGroup);
        }
        return result;
    }

    /// <summary>
    /// One layer: <paramref name="dropOrder"/> lists every expert, the first to drop first; each group drops its first
    /// <paramref name="dropPerGroup"/> experts in that order.
    /// </summary>
    public static LayerSelection SelectLayer(int layer, IReadOnlyList<int> dropOrder, int numExperts, int nGroup, int dropPerGroup)
    {
        if (nGroup < 1 || numExperts % nGroup != 0)
            throw new MoePruneException($"layer {layer}: n_group = {nGroup} does not divide its {numExperts} experts");
        int size = numExperts / nGroup;
        if (dropPerGroup < 0 || dropPerGroup >= size)
            throw new MoePruneException($"layer {layer}: dropping {dropPerGroup} of each group's {size} experts leaves none");
        if (dropOrder.Count != numExperts || dropOrder.Distinct().Count() != numExperts || dropOrder.Any(e => e < 0 || e >= numExperts))
            throw new ArgumentException($"layer {layer}: the drop order must list each of the {numExperts} experts once", nameof(dropOrder));
        var removed = dropOrder.GroupBy(e => e / size).SelectMany(g => g.Take(dropPerGroup));
        return LayerSelection.FromRemoved(layer, numExperts, removed);
    }

    /// <summary>
    /// The per-group drop count for removing <paramref name="drops"/> experts from each layer of <paramref name="config"/>,
    /// refused (one line, with the reason) when the groups cannot share it equally or would be left too small.
    /// </summary>
    public static int DropsPerGroup(MoeConfig config, int drops)
    {
        var groups = config.Groups;
        int g = groups.IsGroupLimited ? groups.NGroup : 1;
        if (drops % g != 0)
            throw new MoePruneException($"{config.Path}: removing {drops} experts per layer is not group-balanced: group-limited routing "
                                        + $"(n_group = {g}) needs a multiple of {g}, the same number from every group");
        if (config.Family.ExpertCountProblem(config, config.NumExperts - drops) is string problem)
            throw new MoePruneException($"{config.Path}: keeping {config.NumExperts - drops} experts per layer is not possible: {problem}");
        return drops / g;
    }

    /// <summary>
    /// Refuses a keep-map (MoE layer → kept originals) that breaks the group rule of <paramref name="config"/>, with the
    /// kept count of every group in the message; nothing is built or written before this passes.
    /// </summary>
    /// <param name="source">What the keep-map is, for the message (a file); the config's path when null.</param>
    public static void Validate(MoeConfig config, IReadOnlyDictionary<int, IReadOnlyList<int>> keep, string? source = null)
    {
        var problems = keep.Select(kv => GroupBalance.Problem(config.Groups, kv.Key, config.ExpertsInLayer(kv.Key),
                                                              kv.Value.Order().Select(e => new ExpertSlot(e)).ToArray()))
                           .OfType<string>().ToList();
        if (problems.Count > 0)
            throw new MoePruneException($"{source ?? config.Path}: the keep-map is not group-balanced: {string.Join("; ", problems.Take(3))}"
                                        + (problems.Count > 3 ? $"; and {problems.Count - 3} more" : ""), problems);
    }
}
