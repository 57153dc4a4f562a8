namespace MoePrune.Criteria;

/// <summary>
/// The mergeable calibration statistics of a run: per MoE layer <see cref="LayerStats"/> over all
/// tokens, plus per calibration source a second set (routing and activation sums only) so that the
/// cheap criteria can be reported per source. Save/Load: <see cref="CriteriaStatsFile"/>.
/// </summary>
public sealed class CriteriaStats
{
    /// <summary>Canonical names of the criteria the statistics were collected for.</summary>
    public List<string> Criteria { get; } = [];
    /// <summary>Free text describing the calibration data (dataset, sequence count, length…).</summary>
    public string Calibration { get; set; } = "";
    /// <summary>Layer index → statistics over every source.</summary>
    public SortedDictionary<int, LayerStats> Layers { get; } = [];
    /// <summary>Source name → layer index → statistics of that source's tokens (no gradients, no NAEE sample).</summary>
    public SortedDictionary<string, SortedDictionary<int, LayerStats>> Sources { get; } = new(StringComparer.Ordinal);

    /// <summary>Tokens seen by the first layer (every layer sees the same tokens in one model).</summary>
    public long Tokens => Layers.Count == 0 ? 0 : Layers.First().Value.Tokens;

    /// <summary>The statistics of one source, as a CriteriaStats that the scorer accepts.</summary>
    public CriteriaStats ForSource(string source)
    {
        if (!Sources.TryGetValue(source, out var layers))
            throw new MoePruneException($"criteria statistics: no source '{source}' (have: {MoePruneException.Summarize(Sources.Keys.ToList())})");
        var s = new CriteriaStats { Calibration = $"{Calibration} [source {source}]" };
        s.Criteria.AddRange(Criteria);
        foreach (var (index, layer) in layers) s.Layers[index] = layer;
        return s;
    }

    public LayerStats Layer(int index) => Layers.TryGetValue(index, out var s)
        ? s
        : throw new MoePruneException($"criteria statistics: no statistics for layer {index}");

    /// <summary>
    /// Sums several statistics (e.g. of disjoint calibration shards) into a new object; the inputs are not
    /// changed. All inputs must cover the same layers with the same parts collected.
    /// </summary>
    public static CriteriaStats Merge(params CriteriaStats[] parts)
    {
        if (parts.Length == 0)
            throw new MoePruneException("criteria statistics: nothing to merge");
        var merged = new CriteriaStats
        {
            Calibration = string.Join(" + ", parts.Select(p => p.Calibration).Where(c => c.Length > 0).Distinct()),
        };
        merged.Criteria.AddRange(parts.SelectMany(p => p.Criteria).Distinct());
        foreach (var part in parts)
        {
            if (merged.Layers.Count > 0 && !merged.Layers.Keys.SequenceEqual(part.Layers.Keys))
                throw new MoePruneException($"criteria statistics: cannot merge statistics over different layers ({string.Join(",", part.Layers.Keys)} vs {string.Join(",", merged.Layers.Keys)})");
            MergeLayers(merged.Layers, part.Layers, withGradientsAndNaee: true);
            foreach (var (source, layers) in part.Sources)
            {
                if (!merged.Sources.TryGetValue(source, out var into))
                    merged.Sources[source] = into = [];
                MergeLayers(into, layers, withGradientsAndNaee: false);
            }
        }
        return merged;
    }

    private static void MergeLayers(SortedDictionary<int, LayerStats> into, SortedDictionary<int, LayerStats> from, bool withGradientsAndNaee)
    {
        foreach (var (index, layer) in from)
        {
            if (!into.TryGetValue(index, out var target))
                into[index] = target = layer.EmptyLike(withGradientsAndNaee);
            LayerStatsMerger.AddInto(target, layer);
        }
    }
}
