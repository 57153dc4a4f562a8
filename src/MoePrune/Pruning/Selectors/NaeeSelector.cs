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
    public static int DefaultKeep(IReadOnlyList<IMoeLayerView> views) => DefaultKeep(Shapes(views), views.Max(v => v.RoutingGroups));

    /// <summary>As above for layer → (experts, top-k) under <paramref name="groups"/> routing groups.</summary>
    public static int DefaultKeep(IReadOnlyDictionary<int, (int NumExperts, int TopK)> layers, int groups = 1)
    {
        int keep = Math.Max(layers.Values.Max(v => v.TopK), layers.Values.Min(v => v.NumExperts) / 2);
        return (keep + groups - 1) / groups * groups;
    }

    public static NaeeSelection Select(IReadOnlyList<IMoeLayerView> views, CriteriaStats stats, SelectionRequest request,
        NaeeMode mode = NaeeMode.Exhaustive, int cap = NaeeSearch.DefaultCap)
    {
        var layers = Shapes(views);
        var (keeps, protect) = Plan(layers, request);
        var results = new SortedDictionary<int, NaeeLayerResult>();
        var done = 0L;
        long total = SubsetCount(views.Select(v => v.LayerIndex), layers, keeps, protect, mode, cap, views.Max(v => v.RoutingGroups));
        foreach (var view in views)
            results[view.LayerIndex] = SearchLayer(view, stats, keeps[view.LayerIndex], protect[view.LayerIndex], mode, cap,
                () => Progress.StepProgress.Report("naee search", ++done, Math.Max(total, done), "subsets", $"layer {view.LayerIndex}"));
        return FromResults(results, layers);
    }

    /// <summary>Per layer the experts kept and the protected ones, checked against the layers before any work (a layer-by-layer run then searches each layer while it is loaded).</summary>
    public static (IReadOnlyDictionary<int, int> Keeps, IReadOnlyDictionary<int, HashSet<int>> Protect) Plan(
        IReadOnlyDictionary<int, (int NumExperts, int TopK)> layers, SelectionRequest request)
    {
        var keeps = CheckedKeeps(layers, request, out var protect);
        return (keeps, protect);
    }

    /// <summary>One layer's search on its input sample in <paramref name="stats"/>.</summary>
    public static NaeeLayerResult SearchLayer(IMoeLayerView view, CriteriaStats stats, int keep, IReadOnlyCollection<int> protect,
        NaeeMode mode = NaeeMode.Exhaustive, int cap = NaeeSearch.DefaultCap, Action? evaluatedOne = null)
    {
        var sample = stats.Layer(view.LayerIndex).Find<LayerInputSample>(LayerInputSample.Kind);
        return NaeeSearch.SearchLayer(view, sample, keep, mode, cap, protect, evaluatedOne);
    }

    /// <summary>Subsets the searches of <paramref name="searched"/> evaluate (greedy: an estimate), for progress.</summary>
    public static long SubsetCount(IEnumerable<int> searched, IReadOnlyDictionary<int, (int NumExperts, int TopK)> layers,
        IReadOnlyDictionary<int, int> keeps, IReadOnlyDictionary<int, HashSet<int>> protect, NaeeMode mode = NaeeMode.Exhaustive, int cap = NaeeSearch.DefaultCap,
        int groups = 1) =>
        searched.Sum(l => mode == NaeeMode.Exhaustive
            ? (long)Math.Min(cap, NaeeSearch.CountSubsets(layers[l].NumExperts, keeps[l], groups, protect[l]))
            : (long)layers[l].NumExperts * (layers[l].NumExperts - keeps[l]));

    /// <summary>The selection the layers' searches make.</summary>
    public static NaeeSelection FromResults(SortedDictionary<int, NaeeLayerResult> results, IReadOnlyDictionary<int, (int NumExperts, int TopK)> layers) =>
        new(results, new SortedDictionary<int, LayerSelection>(
            results.ToDictionary(kv => kv.Key, kv => Kept(kv.Key, layers[kv.Key].NumExperts, kv.Value.Best.Experts))));

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
