using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Observation;

namespace MoePrune.Pruning.Selectors;

/// <summary>NAEE's subsets per layer and the selection they make.</summary>
public sealed record NaeeSelection(SortedDictionary<int, NaeeLayerResult> Results, SortedDictionary<int, LayerSelection> Selections)
{
    /// <summary>The scores file's <c>naee</c> section.</summary>
    public SortedDictionary<int, NaeeLayerReport> ToReport() => new(Results.ToDictionary(kv => kv.Key, kv => kv.Value.ToReport()));
}

/// <summary>
/// A subset selector beside <see cref="UniformSelector"/> and <see cref="GlobalBudgetSelector"/>: per layer it keeps
/// the subset with the smallest reconstruction error (<see cref="NaeeSearch"/>) on the layer's
/// <see cref="LayerInputSample"/>, so it needs the model's layers and the input samples, not scores. Each layer
/// keeps <see cref="SelectionRequest.KeepFor"/> of its experts; protected experts stay in every subset searched.
/// </summary>
public static class NaeeSelector
{
    public const string Method = "naee";

    /// <summary>
    /// The kept count when none is given (scoring without a selection): half the experts, at least top-k, rounded up to a
    /// multiple of the routing groups (so every group keeps the same number).
    /// </summary>
    public static int DefaultKeep(IReadOnlyList<IMoeLayerView> views)
    {
        int keep = Math.Max(views.Max(v => v.TopK), views.Min(v => v.NumExperts) / 2);
        int groups = views.Max(v => v.RoutingGroups);
        return (keep + groups - 1) / groups * groups;
    }

    public static NaeeSelection Select(IReadOnlyList<IMoeLayerView> views, CriteriaStats stats, SelectionRequest request,
        NaeeMode mode = NaeeMode.Exhaustive, int cap = NaeeSearch.DefaultCap)
    {
        var keeps = CheckedKeeps(Shapes(views), request, out var protect);
        var results = new SortedDictionary<int, NaeeLayerResult>();
        var selections = new SortedDictionary<int, LayerSelection>();
        long total = mode == NaeeMode.Exhaustive                                          // subsets to evaluate (greedy: an estimate)
            ? views.Sum(v => (long)Math.Min(cap, NaeeSearch.CountSubsets(v.NumExperts, keeps[v.LayerIndex], v.RoutingGroups, protect[v.LayerIndex])))
            : views.Sum(v => (long)v.NumExperts * (v.NumExperts - keeps[v.LayerIndex]));
        long done = 0;
        foreach (var view in views)
        {
            int layer = view.LayerIndex;
            var sample = stats.Layer(layer).Find<LayerInputSample>(LayerInputSample.Kind);
            var result = results[layer] = NaeeSearch.SearchLayer(view, sample, keeps[layer], mode, cap, protect[layer],
                () => Progress.StepProgress.Report("naee search", ++done, Math.Max(total, done), "subsets", $"layer {layer}"));
            selections[layer] = Kept(layer, view.NumExperts, result.Best.Experts);
        }
        return new NaeeSelection(results, selections);
    }

    /// <summary>
    /// The selection of subsets searched earlier (a scores file's <c>naee</c> section, <paramref name="file"/> in
    /// messages) for layers of <paramref name="layers"/> (layer → experts, top-k): refused unless every layer was
    /// searched at the count this request keeps and its subset holds the protected experts.
    /// </summary>
    public static SortedDictionary<int, LayerSelection> FromReport(IReadOnlyDictionary<int, NaeeLayerReport>? stored,
        IReadOnlyDictionary<int, (int NumExperts, int TopK)> layers, SelectionRequest request, string file)
    {
        if (stored is null || stored.Count == 0)
            throw new MoePruneException($"{file}: no naee subsets (score with naee among the criteria)");
        var keeps = CheckedKeeps(layers, request, out var protect);
        var selections = new SortedDictionary<int, LayerSelection>();
        foreach (var (layer, (n, _)) in layers)
        {
            if (!stored.TryGetValue(layer, out var r))
                throw new MoePruneException($"{file}: naee subsets cover layers {string.Join(",", stored.Keys)}, not layer {layer}");
            if (r.Keep != keeps[layer])
                throw new MoePruneException($"{file}: layer {layer}: naee searched subsets of {r.Keep} experts, this selection keeps {keeps[layer]}; score again keeping {keeps[layer]}");
            if (r.Best.Experts.Any(e => e < 0 || e >= n))
                throw new MoePruneException($"{file}: layer {layer}: naee subset [{string.Join(",", r.Best.Experts)}] names experts outside 0..{n - 1}");
            var missing = protect[layer].Where(e => !r.Best.Experts.Contains(e)).ToList();
            if (missing.Count > 0)
                throw new MoePruneException($"{file}: layer {layer}: the stored naee subset leaves out protected expert(s) {string.Join(",", missing)}");
            selections[layer] = Kept(layer, n, r.Best.Experts);
        }
        return selections;
    }

    /// <summary>Layer → (experts, top-k) of the given layers.</summary>
    public static IReadOnlyDictionary<int, (int NumExperts, int TopK)> Shapes(IEnumerable<IMoeLayerView> views) =>
        views.ToDictionary(v => v.LayerIndex, v => (v.NumExperts, v.TopK));

    /// <summary>Checks <paramref name="request"/> against the layers before any work; returns layer → experts kept.</summary>
    public static IReadOnlyDictionary<int, int> Check(IReadOnlyDictionary<int, (int NumExperts, int TopK)> layers, SelectionRequest request) =>
        CheckedKeeps(layers, request, out _);

    private static Dictionary<int, int> CheckedKeeps(IReadOnlyDictionary<int, (int NumExperts, int TopK)> layers, SelectionRequest request,
        out Dictionary<int, HashSet<int>> protect)
    {
        if (request.Global)
            throw new MoePruneException($"{request.Names[OptionNames.Global]}: naee chooses each layer's subset itself; a global budget does not apply");
        protect = SelectionChecks.ProtectedByLayer(layers.ToDictionary(l => l.Key, l => l.Value.NumExperts), request);
        var keeps = new Dictionary<int, int>();
        foreach (var (layer, (n, topK)) in layers)
            keeps[layer] = n - SelectionChecks.CheckedDrops(request, layer, n, topK, protect[layer].Count);
        return keeps;
    }

    private static LayerSelection Kept(int layer, int n, int[] kept) =>
        LayerSelection.FromRemoved(layer, n, Enumerable.Range(0, n).Except(kept));
}
