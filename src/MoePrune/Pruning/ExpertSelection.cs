using MoePrune.Criteria;

namespace MoePrune.Pruning;

/// <summary>
/// Chooses which experts to remove from each layer from a criterion's scores: uniform (the same count
/// per layer, the paper's choice) or a global budget that ranks the per-layer z-scores of all experts.
/// Never leaves a layer with fewer than top-k experts; never removes a protected expert.
/// </summary>
public static class ExpertSelection
{
    public static SortedDictionary<int, LayerSelection> Select(CriterionScores scores, SelectionRequest request)
    {
        if (scores.Layers.Count == 0)
            throw new MoePruneException($"selection: criterion {scores.Spec.Name} has no layers");
        var protect = ProtectedByLayer(scores, request.Protect);
        var drops = new SortedDictionary<int, int>();
        foreach (var (index, layer) in scores.Layers)
            drops[index] = CheckedDrops(request, layer, protect[index].Count);
        return request.Global
            ? GlobalBudget(scores, drops.Values.Sum(), protect)
            : Uniform(scores, drops, protect);
    }

    /// <summary>NAEE's answer as a selection (its subsets already honour keep and protection).</summary>
    public static SortedDictionary<int, LayerSelection> FromNaee(IReadOnlyDictionary<int, NaeeLayerResult> results, IReadOnlyDictionary<int, int> numExperts)
    {
        var result = new SortedDictionary<int, LayerSelection>();
        foreach (var (index, r) in results)
        {
            int n = numExperts[index];
            result[index] = LayerSelection.FromRemoved(index, n, Enumerable.Range(0, n).Except(r.Best.Experts));
        }
        return result;
    }

    private static SortedDictionary<int, LayerSelection> Uniform(CriterionScores scores, SortedDictionary<int, int> drops,
        Dictionary<int, HashSet<int>> protect)
    {
        var result = new SortedDictionary<int, LayerSelection>();
        foreach (var (index, layer) in scores.Layers)
        {
            var removed = scores.DropOrder(index).Where(e => !protect[index].Contains(e)).Take(drops[index]);
            result[index] = LayerSelection.FromRemoved(index, layer.Values.Length, removed);
        }
        return result;
    }

    /// <summary>
    /// Global budget: z = ±(v − mean)/std within the layer (population std, sign so that the end dropped
    /// first is the most negative; z = 0 when std = 0); all unprotected experts are taken in ascending z
    /// (ties: lower layer, then the layer's own drop order) while their layer keeps more than top-k.
    /// </summary>
    private static SortedDictionary<int, LayerSelection> GlobalBudget(CriterionScores scores, int budget, Dictionary<int, HashSet<int>> protect)
    {
        var candidates = new List<(double Z, int Layer, int Position, int Expert)>();
        foreach (var (index, layer) in scores.Layers)
        {
            var v = layer.Values;
            double mean = v.Average();
            double std = Math.Sqrt(v.Select(x => (x - mean) * (x - mean)).Average());
            double sign = scores.Drops == DropDirection.Min ? 1 : -1;
            var order = scores.DropOrder(index);
            for (int pos = 0; pos < order.Length; pos++)
            {
                int e = order[pos];
                if (protect[index].Contains(e)) continue;
                candidates.Add((std > 0 ? sign * (v[e] - mean) / std : 0.0, index, pos, e));
            }
        }
        var removed = scores.Layers.Keys.ToDictionary(l => l, _ => new List<int>());
        int left = budget;
        foreach (var c in candidates.OrderBy(c => c.Z).ThenBy(c => c.Layer).ThenBy(c => c.Position))
        {
            if (left == 0) break;
            var layer = scores.Layers[c.Layer];
            if (layer.Values.Length - removed[c.Layer].Count <= layer.TopK) continue;
            removed[c.Layer].Add(c.Expert);
            left--;
        }
        if (left > 0)
            throw new MoePruneException($"selection: a global budget of {budget} experts cannot be removed without leaving a layer below top-k or removing protected experts");
        return new SortedDictionary<int, LayerSelection>(scores.Layers.ToDictionary(
            kv => kv.Key, kv => LayerSelection.FromRemoved(kv.Key, kv.Value.Values.Length, removed[kv.Key])));
    }

    private static int CheckedDrops(SelectionRequest request, LayerScores layer, int protectedCount)
    {
        int n = layer.Values.Length, l = layer.LayerIndex;
        if (request.Keep is { } k && (k < layer.TopK || k > n))
            throw new MoePruneException($"--keep: {k} is outside [top-k {layer.TopK}, {n} experts] for layer {l}");
        int d = request.DropsFor(n);
        if (d >= n)
            throw new MoePruneException($"--drop: removing {d} of {n} experts leaves none in layer {l}");
        if (n - d < layer.TopK)
            throw new MoePruneException($"selection: layer {l} would keep {n - d} experts, fewer than its top-k {layer.TopK}");
        if (!request.Global && protectedCount > n - d)
            throw new MoePruneException($"--protect: layer {l} has {protectedCount} protected experts but keeps only {n - d}");
        return d;
    }

    private static Dictionary<int, HashSet<int>> ProtectedByLayer(CriterionScores scores, IReadOnlyList<ProtectedExpert> protect)
    {
        var result = scores.Layers.Keys.ToDictionary(l => l, _ => new HashSet<int>());
        foreach (var p in protect)
        {
            if (!scores.Layers.TryGetValue(p.Layer, out var layer))
                throw new MoePruneException($"--protect: {p.Layer}:{p.Expert}: no MoE layer {p.Layer} (have {string.Join(",", scores.Layers.Keys)})");
            if (p.Expert >= layer.Values.Length)
                throw new MoePruneException($"--protect: {p.Layer}:{p.Expert}: layer {p.Layer} has only {layer.Values.Length} experts");
            result[p.Layer].Add(p.Expert);
        }
        return result;
    }
}
