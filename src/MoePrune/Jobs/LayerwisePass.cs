using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Layerwise;

namespace MoePrune.Jobs;

/// <summary>What one layer-by-layer pass produced: statistics (null when none were collected), their calibration data, seconds, and the run's summary.</summary>
internal sealed record LayerwisePassResult(CriteriaStats? Stats, JsonObject? Calibration, double Seconds, string Fingerprint, LayerwiseSummary Summary);

/// <summary>
/// One pass over a checkpoint layer by layer for a job: a calibration pass when a criterion reads statistics (the
/// calibration of <see cref="CalibrationSettings"/>, a shard of it when asked), otherwise only each layer's weights
/// when <see cref="LayerLocalScores"/> needs them; each MoE layer is scored into it while loaded. Ends with the
/// checkpoint fingerprint (the tensors not read are hashed then) stamped on the statistics.
/// </summary>
internal static class LayerwisePass
{
    /// <param name="given">Statistics merged from files: no calibration pass, but NAEE reads their input samples.</param>
    /// <param name="keepInputSamples">Keep each layer's input sample after its layer was scored (to save the statistics);
    /// otherwise it is freed then, so that NAEE holds one layer's sample at a time.</param>
    public static LayerwisePassResult Run(LayerwiseCheckpoint checkpoint, ExecutionChoice choice, LayerwiseSettings settings,
        IReadOnlyList<CriterionSpec> criteria, CalibrationSettings calibration, string tokenizerDir, LayerLocalScores local,
        CriteriaStats? given, OptionNames names, Action<LayerwiseProgress>? progress, bool keepInputSamples = false)
    {
        void Score(Observation.IMoeLayerView view, CriteriaStats? stats)
        {
            local.Add(view, stats);
            if (!keepInputSamples && stats?.Layers.TryGetValue(view.LayerIndex, out var layer) == true) layer.Remove(LayerInputSample.Kind);
        }
        LayerwiseCalibration.RefuseGradients(criteria);
        bool collect = given is null && criteria.Any(c => c.Needs.ReadsStatistics);
        var data = collect ? calibration.Pack(tokenizerDir, checkpoint.Config.VocabSize, names) : null;
        double? disk = collect || local.NeedsWeights ? DiskReadRate.Measure(checkpoint.Dir, checkpoint.ShardFiles) : null;
        long hiddenMemory = choice.HiddenMemoryBytes(checkpoint.Sizes);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        CriteriaStats? stats = given;
        (long Bytes, bool Spilled) hidden = (0, false);
        if (data is not null)
        {
            (stats, hidden.Bytes, hidden.Spilled) = LayerwiseCalibration.Collect(checkpoint, data, criteria, calibration.InputSampleRows,
                calibration.BatchSize, local.NeedsWeights ? Score : null, hiddenMemory, settings.SpillDir, progress);
            CalibrationSettings.MarkShard(stats, data);
        }
        else if (local.NeedsWeights)
            LayerwiseRunner.Run(checkpoint, [], new LayerwiseHooks { AfterLayer = l => { if (l.Moe is { } moe) Score(moe, given); } },
                                progress: progress);
        double seconds = clock.Elapsed.TotalSeconds;
        string fingerprint = checkpoint.Fingerprint();
        if (data is not null) stats!.CheckpointFingerprint = fingerprint;
        var summary = new LayerwiseSummary(choice.Reason, choice.BudgetBytes, checkpoint.Sizes.LargestUnit, hidden.Bytes, hidden.Spilled,
                                           checkpoint.BytesRead, checkpoint.ReadSeconds, disk);
        return new LayerwisePassResult(stats, data?.ToJson(), data is null ? 0 : seconds, fingerprint, summary);
    }
}
