using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Criteria.Statistics;
using MoePrune.IO;
using MoePrune.Layerwise;
using MoePrune.Merging.Partition;
using MoePrune.Models;
using MoePrune.Observation;
using MoePrune.Pruning;

namespace MoePrune.Jobs;

/// <summary>
/// <c>moeprune merge</c> layer by layer (<see cref="MergeJob.Run"/> chooses it), never building the model: every check that
/// needs no data first (<see cref="MergeRound.Plan"/>), then one <see cref="LayerwiseCalibration"/> pass collecting what the
/// similarity and merge read (or, for data-free choices, each layer only loaded); each sparse layer is merged while it is
/// still loaded, with its statistics complete (<see cref="MergeRound.MergeLayer"/>, the in-memory round's code), its merged
/// experts go to a temporary file (<see cref="TensorSpill"/>) and its input sample is freed. The export streams shard to
/// shard from the checkpoint as a layer-by-layer prune's does, the merged experts read back one at a time: the checkpoint is
/// byte-identical to the in-memory merge's (the same groups, coefficients and merged tensors), and <c>merging.json</c>
/// holds the same record.
/// </summary>
public static class LayerwiseMergeJob
{
    /// <summary>Shard size of the export: <see cref="ExpertSurgery"/>'s default, as the in-memory merge writes.</summary>
    private const long MaxShardBytes = 5_000_000_000;

    public static MergeResult Run(MergeRequest request, LayerwiseCheckpoint checkpoint, ExecutionChoice choice, Action<LayerwiseProgress>? progress = null)
    {
        var spec = request.Spec;
        var config = checkpoint.Config;
        var experts = checkpoint.MoeShapes.ToDictionary(kv => kv.Key, kv => kv.Value.NumExperts);
        var lineage = ExpertLineage.Identity(experts);
        var (explicitGroups, groupCounts) = MergeRound.Plan(config, experts, lineage, spec);
        if (request.GgufFile is not null) MergeJob.CheckGguf(request, config, groupCounts);
        var kinds = spec.Statistics();
        var data = kinds is null ? null : spec.Calibration.Pack(request.ModelDir, config.VocabSize, spec.Names);
        double? disk = DiskReadRate.Measure(checkpoint.Dir, checkpoint.ShardFiles);
        var options = spec.Options();
        var routing = config.Family.CreateRouting(config);
        using var spill = new TensorSpill(request.Execution.SpillDir);
        using var outcome = new MergeOutcome(spec) { Calibration = data?.ToJson() };
        var tensors = new Dictionary<(int Layer, int Slot), ExpertTensors>();
        var mergeClock = new Stopwatch();

        void MergeLayer(IMoeLayerView view, CriteriaStats? stats)
        {
            int layer = view.LayerIndex;
            ExpertGrouping? given = null;
            if (explicitGroups is not null && (!explicitGroups.TryGetValue(layer, out given) || given.Count == view.NumExperts))
                return;                                                                          // unchanged layer
            mergeClock.Start();
            var result = outcome.Layers[layer] = MergeRound.MergeLayer(view, config.Groups, spec, options, routing, stats, given, groupCounts[layer], outcome);
            var bias = (view as SparseMoeBlock)?.Router.ScoreCorrectionBias;
            for (int slot = 0; slot < result.Merged.Count; slot++)
            {
                var m = result.Merged.Experts[slot];
                if (m.Members.Length == 1) continue;                                             // copied from the checkpoint
                var entry = MergeRound.OneHotMember(m) >= 0 ? null : MergeRound.MergedBias(bias, m);
                if (entry is not null) outcome.Biases.Add(entry);
                tensors[(layer, slot)] = new ExpertTensors(spill.Add(m.Weights.GateProj), spill.Add(m.Weights.UpProj), spill.Add(m.Weights.DownProj),
                                                           m.RouterRow, entry);
            }
            result.Merged.ReleaseProjections();
            stats?.Layer(layer).Remove(LayerInputSample.Kind);
            mergeClock.Stop();
        }

        var clock = Stopwatch.StartNew();
        (long Bytes, bool Spilled) hidden = (0, false);
        if (data is not null)
        {
            CriteriaStats stats;
            (stats, hidden.Bytes, hidden.Spilled) = LayerwiseCalibration.Collect(checkpoint, data, kinds!, spec.Calibration.InputSampleRows,
                spec.Calibration.BatchSize, MergeLayer, choice.HiddenMemoryBytes(checkpoint.Sizes), request.Execution.SpillDir, progress);
            outcome.CalibrationTokens = stats.Tokens;
            outcome.CalibrationSeconds = clock.Elapsed.TotalSeconds - mergeClock.Elapsed.TotalSeconds;
        }
        else
            LayerwiseRunner.Run(checkpoint, [], new LayerwiseHooks { AfterLayer = l => { if (l.Moe is { } moe) MergeLayer(moe, null); } }, progress: progress);
        outcome.MergeSeconds = mergeClock.Elapsed.TotalSeconds;

        MtpChoice? mtp = null;
        if (config.NumMtpLayers > 0)
        {
            using var stored = CheckpointTensorSource.Open(request.ModelDir);
            mtp = MtpChoice.For(stored, MergeRound.MergedCount(config, experts, outcome), spec.DropMtp);
        }
        var (_, plan, after) = MergeRound.BuildPlan(config, experts, outcome, lineage, mtp, spec, (layer, slot, _, _) => tensors[(layer, slot)]);
        string fingerprint = checkpoint.Fingerprint();
        var round = MergeRecord.Round(1, outcome, lineage, mtp);
        var record = MergeRecord.Build(request.ModelDir, config.ModelType, fingerprint, checkpoint.Dtype, [round], after);
        using (var stored = CheckpointTensorSource.Open(request.ModelDir))
        {
            ITensorSource source = ConvertedTensorSource.Needed(stored, checkpoint.Dtype) ? new ConvertedTensorSource(stored, checkpoint.Dtype) : stored;
            ExpertSurgery.Export(source, plan, new SafetensorsCheckpointSink(request.OutDir, MaxShardBytes, copyAuxFrom: request.ModelDir),
                                 spec.NonUniform, new Dictionary<string, JsonNode> { [MergeRecord.File] = record });
        }
        GgufOutput.Write(request.OutDir, request.GgufFile);
        var summary = new LayerwiseSummary(choice.Reason, choice.BudgetBytes, checkpoint.Sizes.LargestUnit, hidden.Bytes, hidden.Spilled,
                                           checkpoint.BytesRead, checkpoint.ReadSeconds, disk);
        return new MergeResult(request.OutDir, record, request.GgufFile, summary);
    }
}
