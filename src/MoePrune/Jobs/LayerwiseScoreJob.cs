using MoePrune.Criteria.Statistics;
using MoePrune.Layerwise;

namespace MoePrune.Jobs;

/// <summary>
/// <c>moeprune score</c> layer by layer (<see cref="ScoreJob.Run"/> chooses it): the calibration statistics, each MoE
/// layer's weight criteria and NAEE subsets from one <see cref="LayerwisePass"/>, never the whole model in memory.
/// The report equals the in-memory one up to fp32 summation order. Merged statistics are checked against the
/// checkpoint's fingerprint once the pass has read it.
/// </summary>
public static class LayerwiseScoreJob
{
    public static ScoreResult Run(ScoreRequest r, LayerwiseCheckpoint checkpoint, ExecutionChoice choice, Action<LayerwiseProgress>? progress = null)
    {
        var layers = checkpoint.MoeShapes;
        var local = new LayerLocalScores(r.Criteria, layers, ScoreJob.Subsets(r, layers, checkpoint.Config), r.Calibration.Seed);
        CriteriaStats? merged = r.MergeStats.Count > 0
            ? StatisticsFiles.LoadMerged(r.MergeStats, r.ModelDir, fingerprint: null, layers.ToDictionary(l => l.Key, l => l.Value.NumExperts))
            : null;
        merged?.CheckCovers(r.Criteria);
        var pass = LayerwisePass.Run(checkpoint, choice, r.Execution, r.Criteria, r.Calibration, r.ModelDir, local, merged, r.Names, progress,
                                     keepInputSamples: r.SaveStats is not null);
        var calibration = pass.Calibration;
        if (merged is not null)
        {
            StatisticsFiles.CheckFingerprint(merged, r.MergeStats[0], r.ModelDir, pass.Fingerprint);
            calibration = ScoreJob.MergedCalibration(r, merged);
        }
        var stats = pass.Stats;
        var metadata = ScoreJob.Metadata(r, stats, calibration, pass.Fingerprint, checkpoint.Dtype);
        var report = ScoreJob.Report(local, stats, r.Criteria, metadata, r.Calibration.Seed);
        if (r.SaveStats is not null) CriteriaStatsFile.Save(stats!, r.SaveStats);
        report.Save(r.OutFile);
        return new ScoreResult(report, stats, stats?.Tokens ?? 0, pass.Seconds, pass.Summary);
    }
}
