using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Models;
using MoePrune.Observation;
using MoePrune.Pruning;
using MoePrune.Pruning.Selectors;

namespace MoePrune.Jobs;

/// <summary>
/// <c>moeprune score</c> as a library call: load the checkpoint, get statistics (one calibration pass, or the
/// merge of saved passes of the same checkpoint, or none when only weight criteria are asked for), score every
/// criterion (<see cref="Report"/>), write <c>scores.json</c> atomically, and optionally save the statistics.
/// </summary>
public static class ScoreJob
{
    public static ScoreResult Run(ScoreRequest r, Action<ScoringProgress>? progress = null)
    {
        var names = r.Names;
        bool needsStats = r.Criteria.Any(c => c.Needs.ReadsStatistics);
        if (r.SaveStats is not null && !needsStats)
            throw new MoePruneException($"{names[OptionNames.SaveStats]}: the requested criteria read no calibration statistics");
        if (r.SaveStats is not null && r.MergeStats.Count > 0)
            throw new MoePruneException($"{names[OptionNames.SaveStats]}: cannot be combined with {names[OptionNames.MergeStats]} (the merged statistics are already saved)");
        r.Calibration.Check(names);
        IO.OutputPaths.Claim(r.OutFile, IO.OutputKind.File, r.Force, names);
        if (r.SaveStats is not null) IO.OutputPaths.Claim(r.SaveStats, IO.OutputKind.File, r.Force, names);
        using var model = ModelLoader.Load(r.ModelDir, r.Dtype);
        string fingerprint = model.Fingerprint ?? IO.CheckpointFingerprint.Compute(r.ModelDir);
        var groups = model.Config.Groups;
        var subsets = new SelectionRequest
        {
            Keep = r.SubsetKeep ?? (groups.IsGroupLimited                                // every group keeps what its score needs
                ? Math.Min(model.Config.NumExperts, Math.Max(NaeeSelector.DefaultKeep(model.MoeLayers), groups.NGroup * groups.MinGroupSize))
                : NaeeSelector.DefaultKeep(model.MoeLayers)),
            Names = names.With(OptionNames.Keep, names[OptionNames.SubsetKeep]),
        };
        if (r.Criteria.Any(c => c.Needs.SelectsSubsets))                                  // before the calibration pass
        {
            NaeeSelector.Check(NaeeSelector.Shapes(model.MoeLayers), subsets);
            try
            {
                if (groups.IsGroupLimited) GroupBalancedSelection.DropsPerGroup(model.Config, model.Config.NumExperts - subsets.Keep.Value);
            }
            catch (MoePruneException e)
            {
                throw new MoePruneException($"{names[OptionNames.SubsetKeep]} {subsets.Keep}: {e.Message}", e.Details, e);
            }
        }
        CriteriaStats? stats = null;
        JsonObject? calibration = null;
        double seconds = 0;
        if (r.MergeStats.Count > 0)
        {
            stats = StatisticsFiles.LoadMerged(r.MergeStats, r.ModelDir, fingerprint, model.MoeLayers);
            calibration = new JsonObject
            {
                ["merged_from"] = new JsonArray(r.MergeStats.Select(f => (JsonNode)JsonValue.Create(Path.GetFullPath(f))).ToArray()),
                ["description"] = stats.Calibration,
                ["tokens"] = stats.Tokens,
            };
        }
        else if (needsStats)
            (stats, calibration, seconds) = r.Calibration.Collect(model, r.ModelDir, r.Criteria, progress);
        var metadata = ScoresMetadata.From(stats, Path.GetFullPath(r.ModelDir), r.Calibration.Seed);
        metadata.CheckpointFingerprint = fingerprint;
        metadata.Dtype = DtypeNames.ToConfigName(model.Dtype);
        metadata.CalibrationData = calibration;
        var report = Report(model.MoeLayers, stats, r.Criteria, metadata, r.Calibration.Seed, subsets);
        if (r.SaveStats is not null) CriteriaStatsFile.Save(stats!, r.SaveStats);
        report.Save(r.OutFile);
        return new ScoreResult(report, stats, stats?.Tokens ?? 0, seconds);
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
        if (stats is not null) stats.CheckCovers(criteria);
        var report = new ScoresReport { Metadata = metadata };
        foreach (var spec in criteria)
        {
            var needs = spec.Needs;
            if (needs.ReadsStatistics && stats is null)
                throw new MoePruneException($"criterion {spec.Name}: needs calibration statistics, none were given");
            if (needs.SelectsSubsets)
            {
                var request = subsets ?? new SelectionRequest { Keep = NaeeSelector.DefaultKeep(views) };
                var found = NaeeSelector.Select(views, stats!, request, mode);
                report.Naee = found.ToReport();
                continue;
            }
            var useStats = needs.ReadsStatistics ? stats : null;
            report.Add(CriteriaScorer.Score(spec, useStats, views, seed));
            if (useStats is null || !needs.PerSource) continue;
            foreach (var source in useStats.Sources.Keys)
                report.Add(CriteriaScorer.Score(spec, useStats.ForSource(source), views, seed), source);
        }
        return report;
    }
}
