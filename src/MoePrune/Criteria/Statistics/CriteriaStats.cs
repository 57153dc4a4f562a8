namespace MoePrune.Criteria.Statistics;

/// <summary>
/// The mergeable calibration statistics of a run: per MoE layer <see cref="LayerStats"/> over all tokens, plus
/// per calibration source a second set (the per-source parts only) so that the cheap criteria can be reported
/// per source; the criteria they were collected for and the checkpoint they were collected on.
/// Save/Load: <see cref="CriteriaStatsFile"/>.
/// </summary>
public sealed class CriteriaStats
{
    /// <summary>Canonical names of the criteria the statistics were collected for.</summary>
    public List<string> Criteria { get; } = [];
    /// <summary>Free text describing the calibration data (dataset, sequence count, length…).</summary>
    public string Calibration { get; set; } = "";
    /// <summary>Fingerprint of the checkpoint the pass ran on (<c>IO.CheckpointFingerprint</c>); null for a model built in memory.</summary>
    public string? CheckpointFingerprint { get; set; }
    /// <summary>The calibration shard these statistics cover ("K/N", <c>Calibration.CalibrationShard</c>), or null for a whole set.</summary>
    public string? Shard { get; set; }
    /// <summary>For a shard: the whole calibration set it was cut from (its description), so shards of different sets are not merged.</summary>
    public string? ShardOf { get; set; }
    /// <summary>Layer index → statistics over every source.</summary>
    public SortedDictionary<int, LayerStats> Layers { get; } = [];
    /// <summary>Source name → layer index → statistics of that source's tokens (per-source parts only).</summary>
    public SortedDictionary<string, SortedDictionary<int, LayerStats>> Sources { get; } = new(StringComparer.Ordinal);

    /// <summary>Tokens seen by the first layer (every layer sees the same tokens in one model).</summary>
    public long Tokens => Layers.Count == 0 ? 0 : Layers.First().Value.Tokens;

    /// <summary>Layer index → expert count, the shape the statistics describe.</summary>
    public SortedDictionary<int, int> ExpertCounts => new(Layers.ToDictionary(l => l.Key, l => l.Value.NumExperts));

    /// <summary>The criterion kinds the statistics were collected for.</summary>
    public IReadOnlySet<CriterionKind> CriterionKinds => Criteria.Select(c => CriterionSpec.Parse(c).Kind).ToHashSet();

    /// <summary>Refuses statistics (e.g. merged from files) that were not collected for a requested criterion.</summary>
    public void CheckCovers(IEnumerable<CriterionSpec> criteria)
    {
        var collected = CriterionKinds;
        var missing = criteria.Where(c => c.Needs.ReadsStatistics && !collected.Contains(c.Kind)).Select(c => c.Name).ToList();
        if (missing.Count > 0)
            throw new MoePruneException(
                $"statistics were collected for {MoePruneException.Summarize(Criteria)}; they cannot score {MoePruneException.Summarize(missing)}", missing);
    }

    /// <summary>The statistics of one source, as a CriteriaStats that the scorer accepts.</summary>
    public CriteriaStats ForSource(string source)
    {
        if (!Sources.TryGetValue(source, out var layers))
            throw new MoePruneException($"criteria statistics: no source '{source}' (have: {MoePruneException.Summarize(Sources.Keys.ToList())})");
        var s = new CriteriaStats { Calibration = $"{Calibration} [source {source}]", CheckpointFingerprint = CheckpointFingerprint };
        s.Criteria.AddRange(Criteria);
        foreach (var (index, layer) in layers) s.Layers[index] = layer;
        return s;
    }

    public LayerStats Layer(int index) => Layers.TryGetValue(index, out var s)
        ? s
        : throw new MoePruneException($"criteria statistics: no statistics for layer {index}");

    /// <summary>
    /// Sums several statistics (e.g. of disjoint calibration shards) into a new object; the inputs are not
    /// changed. All inputs must come from the same checkpoint and cover the same layers with the same parts.
    /// </summary>
    public static CriteriaStats Merge(params CriteriaStats[] parts)
    {
        if (parts.Length == 0)
            throw new MoePruneException("criteria statistics: nothing to merge");
        var fingerprints = parts.Select(p => p.CheckpointFingerprint).Distinct().ToList();
        if (fingerprints.Count > 1)
            throw new MoePruneException($"criteria statistics: cannot merge statistics of different checkpoints ({string.Join(" vs ", fingerprints.Select(Short))})");
        var merged = new CriteriaStats
        {
            Calibration = string.Join(" + ", parts.Select(p => p.Calibration).Where(c => c.Length > 0).Distinct()),
            CheckpointFingerprint = fingerprints[0],
        };
        merged.Criteria.AddRange(parts.SelectMany(p => p.Criteria).Distinct());
        foreach (var part in parts)
        {
            if (merged.Layers.Count > 0 && !merged.Layers.Keys.SequenceEqual(part.Layers.Keys))
                throw new MoePruneException($"criteria statistics: cannot merge statistics over different layers ({string.Join(",", part.Layers.Keys)} vs {string.Join(",", merged.Layers.Keys)})");
            MergeLayers(merged.Layers, part.Layers);
            foreach (var (source, layers) in part.Sources)
            {
                if (!merged.Sources.TryGetValue(source, out var into))
                    merged.Sources[source] = into = [];
                MergeLayers(into, layers);
            }
        }
        return merged;
    }

    /// <summary>The first 12 hex digits of a fingerprint, or "none".</summary>
    public static string Short(string? fingerprint) => fingerprint is null ? "none" : fingerprint[..Math.Min(12, fingerprint.Length)] + "…";

    private static void MergeLayers(SortedDictionary<int, LayerStats> into, SortedDictionary<int, LayerStats> from)
    {
        foreach (var (index, layer) in from)
        {
            if (!into.TryGetValue(index, out var target))
                into[index] = target = layer.EmptyLike();
            target.MergeFrom(layer);
        }
    }
}
