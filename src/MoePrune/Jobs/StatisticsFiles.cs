using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Observation;

namespace MoePrune.Jobs;

/// <summary>
/// Loads saved statistics files for merging, refusing (one line naming both files) statistics of different
/// checkpoints, different expert counts or different criteria, calibration shards that are not one complete split,
/// and statistics that do not describe the model they are about to score.
/// </summary>
public static class StatisticsFiles
{
    /// <param name="modelDir">The scored checkpoint (named in messages).</param>
    /// <param name="fingerprint">Its fingerprint (<c>IO.CheckpointFingerprint</c>).</param>
    /// <param name="layers">Its MoE layers.</param>
    public static CriteriaStats LoadMerged(IReadOnlyList<string> files, string modelDir, string fingerprint, IReadOnlyList<IMoeLayerView> layers) =>
        LoadMerged(files, modelDir, fingerprint, layers.ToDictionary(v => v.LayerIndex, v => v.NumExperts));

    /// <summary>As above for a model given by its MoE layers' expert counts; a null <paramref name="fingerprint"/> skips that check (<see cref="CheckFingerprint"/> later).</summary>
    public static CriteriaStats LoadMerged(IReadOnlyList<string> files, string modelDir, string? fingerprint, IReadOnlyDictionary<int, int> experts)
    {
        var loaded = files.Select(f => (File: f, Stats: CriteriaStatsFile.Load(f))).ToList();
        var (firstFile, first) = loaded[0];
        foreach (var (file, stats) in loaded.Skip(1))
        {
            if (stats.CheckpointFingerprint != first.CheckpointFingerprint)
                throw new MoePruneException($"{file}: statistics of checkpoint {CriteriaStats.Short(stats.CheckpointFingerprint)}, but {firstFile} has checkpoint {CriteriaStats.Short(first.CheckpointFingerprint)}; merge only statistics of one checkpoint");
            if (Shape(stats) != Shape(first))
                throw new MoePruneException($"{file}: statistics of {Shape(stats)}, but {firstFile} has {Shape(first)}");
            if (!stats.CriterionKinds.SetEquals(first.CriterionKinds))
                throw new MoePruneException($"{file}: statistics collected for {Criteria(stats)}, but {firstFile} for {Criteria(first)}; collect every part for the same criteria");
        }
        string config = Path.Combine(modelDir, "config.json");
        string model = Shape(experts);
        if (Shape(first) != model)
            throw new MoePruneException($"{firstFile}: statistics of {Shape(first)}, but {config} has {model}");
        if (fingerprint is not null) CheckFingerprint(first, firstFile, modelDir, fingerprint);
        return CriteriaStats.Merge(InShardOrder(loaded).Select(l => l.Stats).ToArray());
    }

    /// <summary>Refuses statistics (read from <paramref name="file"/>) of another checkpoint than <paramref name="modelDir"/>'s <paramref name="fingerprint"/>.</summary>
    public static void CheckFingerprint(CriteriaStats stats, string file, string modelDir, string fingerprint)
    {
        if (stats.CheckpointFingerprint != fingerprint)
            throw new MoePruneException($"{file}: statistics of checkpoint {CriteriaStats.Short(stats.CheckpointFingerprint)}, but {modelDir} is checkpoint {CriteriaStats.Short(fingerprint)}");
    }

    /// <summary>
    /// Calibration shards (<c>score --shard K/N</c>) merge only as a complete set — shards 1..N of one calibration set,
    /// each once — and in shard order (the input sample keeps the first rows). Whole-set statistics merge as given.
    /// </summary>
    private static IEnumerable<(string File, CriteriaStats Stats)> InShardOrder(List<(string File, CriteriaStats Stats)> loaded)
    {
        var (firstFile, first) = loaded[0];
        if (loaded.All(l => l.Stats.Shard is null)) return loaded;
        var seen = new Dictionary<int, string>();
        int count = 0;
        foreach (var (file, stats) in loaded)
        {
            if (stats.Shard is null || first.Shard is null)
                throw new MoePruneException($"{file}: statistics of {Part(stats)}, but {firstFile} has {Part(first)}; merge either whole passes or all shards of one");
            var (k, n) = ParseShard(stats.Shard, file);
            if (count == 0) count = n;
            if (n != count || stats.ShardOf != first.ShardOf)
                throw new MoePruneException($"{file}: statistics of {Part(stats)}, but {firstFile} has {Part(first)}; merge the shards of one split");
            if (!seen.TryAdd(k, file))
                throw new MoePruneException($"{file}: shard {stats.Shard} is also given as {seen[k]}; give each shard once");
        }
        var missing = Enumerable.Range(1, count).Where(k => !seen.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new MoePruneException($"{firstFile}: {seen.Count} of {count} calibration shards given; shard(s) {string.Join(",", missing)} of {count} missing");
        return loaded.OrderBy(l => ParseShard(l.Stats.Shard!, l.File).K);
    }

    private static string Part(CriteriaStats s) => s.Shard is null ? $"the whole calibration set '{s.Calibration}'" : $"shard {s.Shard} of '{s.ShardOf}'";

    private static (int K, int N) ParseShard(string shard, string file)
    {
        try
        {
            var parsed = Calibration.CalibrationShard.Parse(shard);
            return (parsed.Index, parsed.Count);
        }
        catch (MoePruneException e)
        {
            throw new MoePruneException($"{file}: bad shard in the statistics metadata ({e.Message})", inner: e);
        }
    }

    private static string Shape(CriteriaStats s) => Shape(s.ExpertCounts);

    /// <summary>"MoE layers 0,1,2 of 8 experts", or "layer 0: 8 experts, layer 1: 6 experts" when counts differ.</summary>
    private static string Shape(IReadOnlyDictionary<int, int> experts) => experts.Values.Distinct().Count() == 1
        ? $"MoE layers {string.Join(",", experts.Keys.Order())} of {experts.Values.First()} experts"
        : string.Join(", ", experts.OrderBy(kv => kv.Key).Select(kv => $"layer {kv.Key}: {kv.Value} experts"));

    private static string Criteria(CriteriaStats s) => string.Join(",", s.CriterionKinds.Select(CriterionInfo.Name).Order());
}
