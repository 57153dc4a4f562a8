using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Observation;

namespace MoePrune.Jobs;

/// <summary>
/// Loads saved statistics files for merging, refusing (one line naming both files) statistics of different
/// checkpoints, different expert counts or different criteria, and statistics that do not describe the model
/// they are about to score.
/// </summary>
public static class StatisticsFiles
{
    /// <param name="modelDir">The scored checkpoint (named in messages).</param>
    /// <param name="fingerprint">Its fingerprint (<c>IO.CheckpointFingerprint</c>).</param>
    /// <param name="layers">Its MoE layers.</param>
    public static CriteriaStats LoadMerged(IReadOnlyList<string> files, string modelDir, string fingerprint, IReadOnlyList<IMoeLayerView> layers)
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
        string model = Shape(layers.ToDictionary(v => v.LayerIndex, v => v.NumExperts));
        if (Shape(first) != model)
            throw new MoePruneException($"{firstFile}: statistics of {Shape(first)}, but {config} has {model}");
        if (first.CheckpointFingerprint != fingerprint)
            throw new MoePruneException($"{firstFile}: statistics of checkpoint {CriteriaStats.Short(first.CheckpointFingerprint)}, but {modelDir} is checkpoint {CriteriaStats.Short(fingerprint)}");
        return CriteriaStats.Merge(loaded.Select(l => l.Stats).ToArray());
    }

    private static string Shape(CriteriaStats s) => Shape(s.ExpertCounts);

    /// <summary>"MoE layers 0,1,2 of 8 experts", or "layer 0: 8 experts, layer 1: 6 experts" when counts differ.</summary>
    private static string Shape(IReadOnlyDictionary<int, int> experts) => experts.Values.Distinct().Count() == 1
        ? $"MoE layers {string.Join(",", experts.Keys.Order())} of {experts.Values.First()} experts"
        : string.Join(", ", experts.OrderBy(kv => kv.Key).Select(kv => $"layer {kv.Key}: {kv.Value} experts"));

    private static string Criteria(CriteriaStats s) => string.Join(",", s.CriterionKinds.Select(CriterionInfo.Name).Order());
}
