using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.IO;
using MoePrune.Layerwise;
using MoePrune.Pruning;
using MoePrune.Pruning.Selectors;

namespace MoePrune.Jobs;

/// <summary>
/// <c>moeprune prune</c> layer by layer (<see cref="PruneJob.Run"/> chooses it): the one-shot round of
/// <see cref="RoundSelection"/> — a keep-map, a scores file of this checkpoint, or a criterion scored (naee searched)
/// in one <see cref="LayerwisePass"/> — then the export streamed shard to shard from the checkpoint
/// (<see cref="ExpertSurgery.Export(ITensorSource, ExpertPlan, ICheckpointSink, bool, IReadOnlyDictionary{string, JsonNode}?)"/>):
/// untouched tensors and surviving experts are byte copies, so the output is byte-identical to the in-memory prune's.
/// The model is never built.
/// </summary>
public static class LayerwisePruneJob
{
    /// <summary>Shard size of the export: <see cref="ExpertSurgery"/>'s default, as the in-memory prune writes.</summary>
    private const long MaxShardBytes = 5_000_000_000;

    public static PruneResult Run(PruneRequest request, RoundSpec spec, LayerwiseCheckpoint checkpoint, ExecutionChoice choice,
                                  Action<LayerwiseProgress>? progress = null)
    {
        var layers = checkpoint.MoeShapes;
        var config = checkpoint.Config;
        RoundSelection.CheckMtp(config, spec, round: 1);
        var lineage = ExpertLineage.Identity(layers.ToDictionary(l => l.Key, l => l.Value.NumExperts));
        string? fingerprint = null;
        LayerwiseSummary? summary = null;
        RoundChoice chosen;
        if (spec.KeepMapFile is { } keepMap)
            chosen = FromKeepMap(checkpoint, keepMap);
        else if (spec.ScoresFile is { } file)
        {
            if (spec.Criterion!.Needs.SelectsSubsets) NaeeSelector.Check(layers, spec.Selection);
            fingerprint = checkpoint.Fingerprint();
            chosen = FromScoresFile(request, spec, layers, file, fingerprint, checkpoint.Config.Groups);
        }
        else
            (chosen, fingerprint, summary) = Scored(request, spec, checkpoint, choice, progress);
        fingerprint ??= checkpoint.Fingerprint();

        if (config.Groups.IsGroupLimited)
            GroupBalancedSelection.Validate(config, chosen.Selections.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<int>)kv.Value.Kept),
                                            spec.KeepMapFile ?? spec.ScoresFile);
        MtpChoice? mtp = null;
        if (config.NumMtpLayers > 0)                                                   // kept consistent as in memory (PruneRound)
        {
            var counts = chosen.Selections.Values.Select(s => s.Kept.Length).Distinct().ToList();
            using var stored = CheckpointTensorSource.Open(request.ModelDir);
            mtp = MtpChoice.For(stored, counts.Count == 1 ? counts[0] : config.NumExperts, spec.DropMtp);
        }
        var plan = MtpChoice.KeepPlan(chosen.Selections.Values, mtp);
        ExpertSurgery.Validate(checkpoint.Config, plan, spec.NonUniform);
        var round = RoundRecord.Build(1, spec, chosen, lineage, mtp);
        var record = PruneJobRecord.Build(request.ModelDir, checkpoint.Config, fingerprint, checkpoint.Dtype, [round], lineage.Keep(chosen.Selections));
        PruneJob.MarkPortable(record, chosen.Selections.Values);
        record["cost"] = LayerwisePruneCost.Measure(checkpoint, choice, request.Execution, plan, spec, chosen.Selections, request.ModelDir, request.Evaluation);
        using (var stored = CheckpointTensorSource.Open(request.ModelDir))
        {
            ITensorSource source = ConvertedTensorSource.Needed(stored, checkpoint.Dtype) ? new ConvertedTensorSource(stored, checkpoint.Dtype) : stored;
            ExpertSurgery.Export(source, plan, new SafetensorsCheckpointSink(request.OutDir, MaxShardBytes, copyAuxFrom: request.ModelDir),
                                 spec.NonUniform, new Dictionary<string, JsonNode> { [PruneExport.RecordFile] = record });
        }
        return new PruneResult(request.OutDir, record, chosen.Selections, summary);
    }

    /// <summary>Scores (or searches subsets) in one layer-by-layer pass; every check that needs no data runs first.</summary>
    private static (RoundChoice, string, LayerwiseSummary) Scored(PruneRequest request, RoundSpec spec, LayerwiseCheckpoint checkpoint,
        ExecutionChoice choice, Action<LayerwiseProgress>? progress)
    {
        var criterion = spec.Criterion!;
        var layers = checkpoint.MoeShapes;
        if (criterion.Needs.SelectsSubsets) NaeeSelector.Check(layers, spec.Selection);
        else Preflight(layers, criterion, spec.Selection, checkpoint.Config.Groups);
        var local = new LayerLocalScores([criterion], layers, criterion.Needs.SelectsSubsets ? spec.Selection : null, spec.Calibration.Seed);
        var pass = LayerwisePass.Run(checkpoint, choice, request.Execution, [criterion], spec.Calibration, request.ModelDir, local,
                                     given: null, spec.Names, progress);
        var metadata = ScoresMetadata.From(pass.Stats, Path.GetFullPath(request.ModelDir), spec.Calibration.Seed);
        metadata.CheckpointFingerprint = pass.Fingerprint;
        metadata.Dtype = Models.DtypeNames.ToConfigName(checkpoint.Dtype);
        metadata.CalibrationData = pass.Calibration?.DeepClone().AsObject();
        var report = new ScoresReport { Metadata = metadata };
        if (criterion.Needs.SelectsSubsets)
        {
            var found = local.Naee;
            report.Naee = found.ToReport();
            return (new RoundChoice(NaeeSelector.Method, found.Selections, null, report, pass.Calibration), pass.Fingerprint, pass.Summary);
        }
        var scores = criterion.Needs.ReadsStatistics ? CriteriaScorer.Score(criterion, pass.Stats, null, spec.Calibration.Seed) : local.Values(criterion);
        report.Add(scores);
        var groups = checkpoint.Config.Groups;
        var selections = ExpertSelection.Select(scores, spec.Selection, groups);
        return (new RoundChoice(ExpertSelection.Method(spec.Selection, groups), selections, scores, report, pass.Calibration), pass.Fingerprint, pass.Summary);
    }

    /// <summary>A keep-map of original indices (the checkpoint's slots are its originals).</summary>
    private static RoundChoice FromKeepMap(LayerwiseCheckpoint checkpoint, string path)
    {
        var map = PruneJobKeepMap.Load(path);
        var mainOnly = ExpertPlan.Keep(map);
        mainOnly.DropMtpLayers = true;                                                  // the MTP layers follow in Run
        ExpertSurgery.Validate(checkpoint.Config, mainOnly, allowNonUniform: true);
        var selections = new SortedDictionary<int, LayerSelection>();
        foreach (var (layer, (experts, _)) in checkpoint.MoeShapes)
        {
            var kept = map.TryGetValue(layer, out var k) ? k : Enumerable.Range(0, experts).ToList();
            selections[layer] = LayerSelection.FromRemoved(layer, experts, Enumerable.Range(0, experts).Except(kept));
        }
        return new RoundChoice(RoundSelection.KeepMapMethod, selections, null, null, null);
    }

    /// <summary>Scores or naee subsets from a scores file of this checkpoint (refused when its fingerprint differs).</summary>
    private static RoundChoice FromScoresFile(PruneRequest request, RoundSpec spec, IReadOnlyDictionary<int, (int NumExperts, int TopK)> layers,
                                              string file, string fingerprint, Models.GroupRouting groups)
    {
        var report = ScoresReport.Load(file);
        string? scored = report.Metadata.CheckpointFingerprint;
        if (scored is null)
            throw new MoePruneException($"{file}: the scores carry no checkpoint fingerprint (written by an older MoePrune?); score this checkpoint again");
        if (scored != fingerprint)
            throw new MoePruneException(
                $"{file}: scores were computed on checkpoint {Criteria.Statistics.CriteriaStats.Short(scored)}, but {request.ModelDir} is checkpoint {Criteria.Statistics.CriteriaStats.Short(fingerprint)}");
        var calibration = report.Metadata.CalibrationData?.DeepClone().AsObject();
        var criterion = spec.Criterion!;
        if (criterion.Needs.SelectsSubsets)
            return new RoundChoice(NaeeSelector.Method, NaeeSelector.FromReport(report.Naee, layers, spec.Selection, file), null, report, calibration);
        Preflight(layers, criterion, spec.Selection, groups);
        var scores = report.ToScores(criterion.Name);
        return new RoundChoice(ExpertSelection.Method(spec.Selection, groups), ExpertSelection.Select(scores, spec.Selection, groups), scores, report, calibration);
    }

    /// <summary>Runs the selection on all-zero scores so that bad counts or protected experts fail before any pass.</summary>
    private static void Preflight(IReadOnlyDictionary<int, (int NumExperts, int TopK)> layers, CriterionSpec criterion, SelectionRequest selection,
                                  Models.GroupRouting groups)
    {
        var zeros = new CriterionScores { Spec = criterion, Drops = DropDirection.Min };
        foreach (var (layer, (experts, topK)) in layers) zeros.Layers[layer] = new LayerScores(layer, topK, new double[experts]);
        ExpertSelection.Select(zeros, selection, groups);
    }
}
