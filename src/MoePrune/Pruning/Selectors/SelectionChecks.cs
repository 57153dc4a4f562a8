namespace MoePrune.Pruning.Selectors;

/// <summary>The checks every selector shares: per-layer counts against top-k, and protected experts.</summary>
internal static class SelectionChecks
{
    /// <summary>Experts removed from a layer of <paramref name="n"/> experts (top-k <paramref name="topK"/>), checked.</summary>
    public static int CheckedDrops(SelectionRequest request, int layer, int n, int topK, int protectedCount)
    {
        var names = request.Names;
        if (request.Keep is { } k && (k < topK || k > n))
            throw new MoePruneException($"{names[OptionNames.Keep]}: {k} is outside [top-k {topK}, {n} experts] for layer {layer}");
        int d = request.DropsFor(n);
        if (d >= n)
            throw new MoePruneException($"{names[OptionNames.Drop]}: removing {d} of {n} experts leaves none in layer {layer}");
        if (n - d < topK)
            throw new MoePruneException($"selection: layer {layer} would keep {n - d} experts, fewer than its top-k {topK}");
        if (!request.Global && protectedCount > n - d)
            throw new MoePruneException($"{names[OptionNames.Protect]}: layer {layer} has {protectedCount} protected experts but keeps only {n - d}");
        return d;
    }

    /// <summary>Layer → protected experts, for layers of <paramref name="experts"/> (layer → expert count); refuses unknown ones.</summary>
    public static Dictionary<int, HashSet<int>> ProtectedByLayer(IReadOnlyDictionary<int, int> experts, SelectionRequest request)
    {
        string option = request.Names[OptionNames.Protect];
        var result = experts.Keys.ToDictionary(l => l, _ => new HashSet<int>());
        foreach (var p in request.Protect)
        {
            if (!experts.TryGetValue(p.Layer, out int n))
                throw new MoePruneException($"{option}: {p.Layer}:{p.Expert}: no MoE layer {p.Layer} (have {string.Join(",", experts.Keys)})");
            if (p.Expert >= n)
                throw new MoePruneException($"{option}: {p.Layer}:{p.Expert}: layer {p.Layer} has only {n} experts");
            result[p.Layer].Add(p.Expert);
        }
        return result;
    }
}
