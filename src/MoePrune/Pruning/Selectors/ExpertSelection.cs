using MoePrune.Criteria;
using MoePrune.Models;

namespace MoePrune.Pruning.Selectors;

/// <summary>
/// Chooses which experts to remove from each layer from a criterion's scores: <see cref="UniformSelector"/>
/// (the same count per layer, the paper's choice) or, with <see cref="SelectionRequest.Global"/>,
/// <see cref="GlobalBudgetSelector"/>. Never leaves a layer with fewer than top-k experts; never removes a
/// protected expert. Under group-limited routing every layer removes the same number from
/// each group (<see cref="GroupBalancedSelection"/>). (Subset selectors that need no scores, such as <see cref="NaeeSelector"/>, stand beside these.)
/// </summary>
public static class ExpertSelection
{
    /// <param name="groups">The routing groups of the scored model (null or ungrouped: plain per-layer selection).</param>
    public static SortedDictionary<int, LayerSelection> Select(CriterionScores scores, SelectionRequest request, GroupRouting? groups = null)
    {
        if (groups?.IsGroupLimited == true) return GroupBalancedSelection.Select(scores, request, groups);
        if (scores.Layers.Count == 0)
            throw new MoePruneException($"selection: criterion {scores.Spec.Name} has no layers");
        var protect = SelectionChecks.ProtectedByLayer(scores.Layers.ToDictionary(l => l.Key, l => l.Value.Values.Length), request);
        var drops = new SortedDictionary<int, int>();
        foreach (var (index, layer) in scores.Layers)
            drops[index] = SelectionChecks.CheckedDrops(request, index, layer.Values.Length, layer.TopK, protect[index].Count);
        return request.Global
            ? GlobalBudgetSelector.Select(scores, drops.Values.Sum(), protect)
            : UniformSelector.Select(scores, drops, protect);
    }

    /// <summary>The method name recorded for a request ("uniform", "global" or "group-balanced").</summary>
    public static string Method(SelectionRequest request, GroupRouting? groups = null) =>
        groups?.IsGroupLimited == true ? GroupBalancedSelection.Method : request.Global ? GlobalBudgetSelector.Method : UniformSelector.Method;
}
