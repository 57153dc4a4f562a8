using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.IO;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Criteria;

/// <summary>What <c>moeprune score</c> computes; see <see cref="ScoringJobRunner.Run"/>.</summary>
public sealed record ScoreRequest
{
    public required string ModelDir { get; init; }
    public required string OutFile { get; init; }
    public IReadOnlyList<CriterionSpec> Criteria { get; init; } = ScoringJob.AllScores;
    public string Calibration { get; init; } = CalibrationSpec.Default;
    public int CalibrationSequences { get; init; } = CalibrationPacker.DefaultSequences;
    public int CalibrationLength { get; init; } = CalibrationPacker.DefaultLength;
    public int Seed { get; init; }
    /// <summary>Writes the pass's statistics here (for a later <see cref="MergeStats"/>).</summary>
    public string? SaveStats { get; init; }
    /// <summary>Statistics files of earlier passes: their merge replaces the calibration pass.</summary>
    public IReadOnlyList<string> MergeStats { get; init; } = [];
    public int NaeeTokens { get; init; } = 4096;
    /// <summary>Experts NAEE keeps per layer; half the experts (at least top-k) when null.</summary>
    public int? NaeeKeep { get; init; }
    public ScalarType? Dtype { get; init; }
    public int BatchSize { get; init; } = ScoringJob.DefaultBatchSize;
}

/// <summary>The report (already written), the statistics behind it, and the pass's speed.</summary>
public sealed record ScoreResult(ScoresReport Report, CriteriaStats? Stats, long CalibrationTokens, double PassSeconds);

/// <summary>
/// <c>moeprune score</c> as a library call: fingerprint and load the checkpoint, get statistics (one
/// calibration pass, or the merge of saved passes, or none when only weight criteria are asked for),
/// score every criterion, write <c>scores.json</c> atomically, and optionally save the statistics.
/// </summary>
public static class ScoringJobRunner
{
    public static ScoreResult Run(ScoreRequest r, Action<ScoringProgress>? progress = null)
    {
        bool needsStats = ScoringJob.NeedsCalibration(r.Criteria);
        if (r.SaveStats is not null && !needsStats)
            throw new MoePruneException("--save-stats: the requested criteria read no calibration statistics");
        if (r.SaveStats is not null && r.MergeStats.Count > 0)
            throw new MoePruneException("--save-stats: cannot be combined with --merge-stats (the merged statistics are already saved)");
        using var model = ModelLoader.Load(r.ModelDir, r.Dtype);
        string hash = model.Fingerprint!;
        CriteriaStats? stats = null;
        JsonObject? calibration = null;
        double seconds = 0;
        if (r.MergeStats.Count > 0)
        {
            stats = CriteriaStats.Merge(r.MergeStats.Select(CriteriaStatsFile.Load).ToArray());
            calibration = new JsonObject
            {
                ["merged_from"] = new JsonArray(r.MergeStats.Select(f => (JsonNode)JsonValue.Create(Path.GetFullPath(f))).ToArray()),
                ["description"] = stats.Calibration,
                ["tokens"] = stats.Tokens,
            };
        }
        else if (needsStats)
        {
            var data = CalibrationPacker.ForModel(r.ModelDir, r.Calibration, r.CalibrationSequences, r.CalibrationLength,
                                                  r.Seed, model.Config.VocabSize);
            var clock = Stopwatch.StartNew();
            stats = ScoringJob.Collect(model, data, r.Criteria, r.NaeeTokens, r.BatchSize, progress);
            seconds = clock.Elapsed.TotalSeconds;
            calibration = data.ToJson();
        }
        var metadata = ScoresMetadata.From(stats, Path.GetFullPath(r.ModelDir), r.Seed);
        metadata.CheckpointSha256 = hash;
        metadata.Dtype = DtypeNames.ToConfigName(model.Dtype);
        metadata.CalibrationData = calibration;
        int naeeKeep = r.NaeeKeep ?? Math.Max(model.Config.TopK, model.Config.NumExperts / 2);
        var report = ScoringJob.Score(model, stats, r.Criteria, metadata, r.Seed, naeeKeep);
        if (r.SaveStats is not null) CriteriaStatsFile.Save(stats!, r.SaveStats);
        report.Save(r.OutFile);
        return new ScoreResult(report, stats, stats?.Tokens ?? 0, seconds);
    }
}
