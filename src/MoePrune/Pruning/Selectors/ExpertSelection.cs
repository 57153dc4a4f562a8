using MoePrune.Criteria;

namespace MoePrune.Pruning.Selectors;

/// <summary>
/// Chooses which experts to remove from each layer from a criterion's scores: <see cref="UniformSelector"/>
/// (the same count per layer, the paper's choice) or, with <see cref="SelectionRequest.Global"/>,
/// <see cref="GlobalBudgetSelector"/>. Never leaves a layer with fewer than top-k experts; never removes a
/// protected expert. (Subset selectors that need no scores, such as <see cref="NaeeSelector"/>, stand beside these.)
/// </summary>
public static class ExpertSelection
{
    public static SortedDictionary<int, LayerSelection> Select(CriterionScores scores, SelectionRequest request)
    {
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

    /// <summary>The method name recorded for a request ("uniform" or "global").</summary>
    public static string Method(SelectionRequest request) => request.Global ? GlobalBudgetSelector.Method : UniformSelector.Method;
}
