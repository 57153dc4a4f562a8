using MoePrune.Criteria;

namespace MoePrune.Pruning.Selectors;

/// <summary>Per layer, its own count of experts in the criterion's drop order, skipping protected experts.</summary>
public static class UniformSelector
{
    public const string Method = "uniform";

    /// <param name="drops">Layer → experts to remove (checked by <see cref="ExpertSelection"/>).</param>
    public static SortedDictionary<int, LayerSelection> Select(CriterionScores scores, IReadOnlyDictionary<int, int> drops,
        IReadOnlyDictionary<int, HashSet<int>> protect)
    {
        var result = new SortedDictionary<int, LayerSelection>();
        foreach (var (index, layer) in scores.Layers)
        {
            var removed = scores.DropOrder(index).Where(e => !protect[index].Contains(e)).Take(drops[index]);
            result[index] = LayerSelection.FromRemoved(index, layer.Values.Length, removed);
        }
        return result;
    }
}
