using MoePrune.Criteria;

namespace MoePrune.Pruning.Selectors;

/// <summary>
/// Global budget: z = ±(v − mean)/std within the layer (population std, sign so that the end dropped
/// first is the most negative; z = 0 when std = 0); all unprotected experts are taken in ascending z
/// (ties: lower layer, then the layer's own drop order) while their layer keeps more than top-k.
/// </summary>
public static class GlobalBudgetSelector
{
    public const string Method = "global";

    public static SortedDictionary<int, LayerSelection> Select(CriterionScores scores, int budget, IReadOnlyDictionary<int, HashSet<int>> protect)
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
}
