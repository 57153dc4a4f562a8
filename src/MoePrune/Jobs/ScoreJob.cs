using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Layerwise;
using MoePrune.Models;
using MoePrune.Observation;
using MoePrune.Pruning;
using MoePrune.Pruning.Selectors;

namespace MoePrune.Jobs;

/// <summary>
/// <c>moeprune score</c> as a library call: load the checkpoint, get statistics (one calibration pass — of one
/// shard of the calibration set when asked —, or the merge of saved passes of the same checkpoint, or none when only
/// weight criteria are asked for), score every criterion (<see cref="Report"/>), write <c>scores.json</c> atomically,
/// and optionally save the statistics. A checkpoint that does not fit the memory budget (or any, when forced) runs
/// layer by layer instead (<see cref="LayerwiseScoreJob"/>), with the same results.
/// </summary>
public static class ScoreJob
{
    /// <param name="layerProgress">Progress of a layer-by-layer run (<see cref="LayerwiseScoreJob"/>).</param>
    public static ScoreResult Run(ScoreRequest r, Action<ScoringProgress>? progress = null, Action<LayerwiseProgress>? layerProgress = null)
    {
        var names = r.Names;
        Check(r);
        using (var checkpoint = LayerwiseCheckpoint.Open(r.ModelDir, r.Dtype))
        {
            var choice = ExecutionChoice.Decide(checkpoint, r.Execution, names);
            if (choice.Layerwise) return LayerwiseScoreJob.Run(r, checkpoint, choice, layerProgress);
        }
        using var model = ModelLoader.Load(r.ModelDir, r.Dtype);
        string fingerprint = model.Fingerprint ?? IO.CheckpointFingerprint.Compute(r.ModelDir);
        var subsets = Subsets(r, NaeeSelector.Shapes(model.MoeLayers), model.Config);
        CriteriaStats? stats = null;
        JsonObject? calibration = null;
        double seconds = 0;
        if (r.MergeStats.Count > 0)
        {
            stats = StatisticsFiles.LoadMerged(r.MergeStats, r.ModelDir, fingerprint, model.MoeLayers);
            calibration = MergedCalibration(r, stats);
        }
        else if (r.Criteria.Any(c => c.Needs.ReadsStatistics))
            (stats, calibration, seconds) = r.Calibration.Collect(model, r.ModelDir, r.Criteria, progress, names);
        var metadata = Metadata(r, stats, calibration, fingerprint, model.Dtype);
        var report = Report(model.MoeLayers, stats, r.Criteria, metadata, r.Calibration.Seed, subsets);
        if (r.SaveStats is not null) CriteriaStatsFile.Save(stats!, r.SaveStats);
        report.Save(r.OutFile);
        return new ScoreResult(report, stats, stats?.Tokens ?? 0, seconds);
    }

    /// <summary>The checks that need no checkpoint.</summary>
    internal static void Check(ScoreRequest r)
    {
        var names = r.Names;
        bool needsStats = r.Criteria.Any(c => c.Needs.ReadsStatistics);
        if (r.SaveStats is not null && !needsStats)
            throw new MoePruneException($"{names[OptionNames.SaveStats]}: the requested criteria read no calibration statistics");
        if (r.SaveStats is not null && r.MergeStats.Count > 0)
            throw new MoePruneException($"{names[OptionNames.SaveStats]}: cannot be combined with {names[OptionNames.MergeStats]} (the merged statistics are already saved)");
        if (r.Calibration.Shard is { } shard)
        {
            if (r.MergeStats.Count > 0)
                throw new MoePruneException($"{names[OptionNames.Shard]} {shard}: cannot be combined with {names[OptionNames.MergeStats]} (merge the shards' statistics instead)");
            if (r.SaveStats is null)
                throw new MoePruneException($"{names[OptionNames.Shard]} {shard}: give {names[OptionNames.SaveStats]} FILE too; a shard's statistics are merged later with {names[OptionNames.MergeStats]}");
        }
        r.Calibration.Check(names);
        IO.OutputPaths.Claim(r.OutFile, IO.OutputKind.File, r.Force, names);
        if (r.SaveStats is not null) IO.OutputPaths.Claim(r.SaveStats, IO.OutputKind.File, r.Force, names);
    }

    /// <summary>The request NAEE searches at, checked against the layers before the calibration pass.</summary>
    /// <remarks>Under group-limited routing every group keeps the same number, at least what its group score needs.</remarks>
    internal static SelectionRequest Subsets(ScoreRequest r, IReadOnlyDictionary<int, (int NumExperts, int TopK)> layers, MoeConfig config)
    {
        var groups = config.Groups;
        var subsets = new SelectionRequest
        {
            Keep = r.SubsetKeep ?? (groups.IsGroupLimited
                ? Math.Min(config.NumExperts, Math.Max(NaeeSelector.DefaultKeep(layers, groups.NGroup), groups.NGroup * groups.MinGroupSize))
                : NaeeSelector.DefaultKeep(layers)),
            Names = r.Names.With(OptionNames.Keep, r.Names[OptionNames.SubsetKeep]),
        };
        if (!r.Criteria.Any(c => c.Needs.SelectsSubsets)) return subsets;                // checked before the calibration pass
        NaeeSelector.Check(layers, subsets);
        try
        {
            if (groups.IsGroupLimited) GroupBalancedSelection.DropsPerGroup(config, config.NumExperts - subsets.Keep!.Value);
        }
        catch (MoePruneException e)
        {
            throw new MoePruneException($"{r.Names[OptionNames.SubsetKeep]} {subsets.Keep}: {e.Message}", e.Details, e);
        }
        return subsets;
    }

    internal static JsonObject MergedCalibration(ScoreRequest r, CriteriaStats stats) => new()
    {
        ["merged_from"] = new JsonArray(r.MergeStats.Select(f => (JsonNode)JsonValue.Create(Path.GetFullPath(f))).ToArray()),
        ["description"] = stats.Calibration,
        ["tokens"] = stats.Tokens,
    };

    internal static ScoresMetadata Metadata(ScoreRequest r, CriteriaStats? stats, JsonObject? calibration, string fingerprint, TorchSharp.torch.ScalarType dtype)
    {
        var metadata = ScoresMetadata.From(stats, Path.GetFullPath(r.ModelDir), r.Calibration.Seed);
        metadata.CheckpointFingerprint = fingerprint;
        metadata.Dtype = DtypeNames.ToConfigName(dtype);
        metadata.CalibrationData = calibration;
        return metadata;
    }

    /// <summary>
    /// Scores every criterion into one report: overall values, per-source values for the criteria that keep them
    /// (<see cref="CriterionNeeds.PerSource"/>), and the subsets of a subset selector (naee, searched at
    /// <paramref name="subsets"/>'s kept count: half the experts, at least top-k, when null).
    /// </summary>
    /// <param name="stats">Calibration statistics; null is allowed when no criterion reads statistics.</param>
    public static ScoresReport Report(IReadOnlyList<IMoeLayerView> views, CriteriaStats? stats, IReadOnlyList<CriterionSpec> criteria,
        ScoresMetadata metadata, int seed = 0, SelectionRequest? subsets = null, NaeeMode mode = NaeeMode.Exhaustive)
    {
        stats?.CheckCovers(criteria);
        var local = new LayerLocalScores(criteria, NaeeSelector.Shapes(views), subsets, seed, mode);
        foreach (var view in views) local.Add(view, stats);
        return Report(local, stats, criteria, metadata, seed);
    }

    /// <summary>The report from the layer-local parts (weights, subsets) gathered layer by layer and the statistics.</summary>
    public static ScoresReport Report(LayerLocalScores local, CriteriaStats? stats, IReadOnlyList<CriterionSpec> criteria,
        ScoresMetadata metadata, int seed = 0)
    {
        stats?.CheckCovers(criteria);
        var report = new ScoresReport { Metadata = metadata };
        foreach (var spec in criteria)
        {
            var needs = spec.Needs;
            if (needs.ReadsStatistics && stats is null)
                throw new MoePruneException($"criterion {spec.Name}: needs calibration statistics, none were given");
            if (needs.SelectsSubsets)
            {
                report.Naee = local.Naee.ToReport();
                continue;
            }
            if (!needs.ReadsStatistics)
            {
                report.Add(local.Values(spec));
                continue;
            }
            report.Add(CriteriaScorer.Score(spec, stats, null, seed));
            if (!needs.PerSource) continue;
            foreach (var source in stats!.Sources.Keys)
                report.Add(CriteriaScorer.Score(spec, stats.ForSource(source), null, seed), source);
        }
        return report;
    }
}
