using MoePrune.Models;

namespace MoePrune.Pruning;

/// <summary>
/// The group rule of surgery under group-limited routing (DeepSeek-V2 <c>group_limited_greedy</c>, DeepSeek-V3 / Kimi-K2 /
/// GLM-4.5 with <c>n_group</c> &gt; 1): routing scores groups of E/G consecutive experts, so a result keeps G and every
/// group g of the new model must be group g of the old one minus the same number of its own experts, in their original
/// order. Then the pruned model's group scores are the old model's over the surviving experts, and the pruned model
/// equals the full one with the removed experts masked. The group sizes left must still satisfy the routing
/// (<see cref="GroupRouting.CountProblem"/>). Without group-limited routing every plan is balanced.
/// </summary>
public static class GroupBalance
{
    /// <summary>How many of <paramref name="keptOriginals"/> fall into each of the <paramref name="nGroup"/> groups of <paramref name="experts"/>.</summary>
    public static int[] KeptPerGroup(int experts, int nGroup, IEnumerable<int> keptOriginals)
    {
        var counts = new int[nGroup];
        int size = experts / nGroup;
        foreach (var e in keptOriginals) counts[e / size]++;
        return counts;
    }

    /// <summary>
    /// Why the new slots of a layer of <paramref name="experts"/> experts break the group rule, or null. A slot holding (or
    /// derived from) an original must sit in that original's group; a custom slot with no original counts where it sits.
    /// </summary>
    public static string? Problem(GroupRouting groups, int layer, int experts, IReadOnlyList<ExpertSlot> slots)
    {
        if (!groups.IsGroupLimited) return null;
        int g = groups.NGroup, oldSize = experts / g;
        var perGroup = KeptPerGroup(experts, g, slots.Where(s => s.Original >= 0).Select(s => s.Original));
        string counts = string.Join(", ", perGroup);
        if (slots.Count % g != 0)
            return $"layer {layer}: {slots.Count} experts cannot form n_group = {g} equal groups (kept per group: {counts}); "
                   + "group-limited routing needs the same number removed from every group";
        int newSize = slots.Count / g;
        for (int s = 0; s < slots.Count; s++)
        {
            int original = slots[s].Original;
            if (original >= 0 && original / oldSize != s / newSize)
                return $"layer {layer}: group-limited routing (n_group = {g}) needs every group to keep the same number of its own "
                       + $"experts in their original order; kept per group: {counts} (slot {s} holds expert {original} of group {original / oldSize})";
        }
        return null;
    }

    /// <summary>The group-rule problems of every layer's slots (empty when the family's routing has no groups).</summary>
    public static IEnumerable<string> Problems(MoeConfig config, IReadOnlyDictionary<int, ExpertSlot[]> slots) =>
        slots.Select(kv => Problem(config.Groups, kv.Key, config.ExpertsInLayer(kv.Key), kv.Value)).OfType<string>();
}
