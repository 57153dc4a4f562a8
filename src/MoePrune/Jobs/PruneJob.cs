using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Jobs;

/// <summary>
/// The written checkpoint, its <c>pruning.json</c>, the per-layer choice (original expert indices), what a layer-by-layer
/// run did (null in memory), and the GGUF file written beside it (null when none was asked for).
/// </summary>
public sealed record PruneResult(string OutDir, JsonObject Record, SortedDictionary<int, LayerSelection> Selections,
                                 Layerwise.LayerwiseSummary? Layerwise = null, string? GgufFile = null);

/// <summary>
/// <c>moeprune prune</c> as a library call: load the checkpoint, run ONE <see cref="PruneRound"/> on it (criterion
/// scores + selection, NAEE's subsets, or a keep-map), and export a standard Hugging Face checkpoint with
/// <c>pruning.json</c> in the same atomically renamed directory (<see cref="PruneExport"/>), recording whether the
/// result is portable (one expert count) and what it cost (<see cref="PruneCost"/>). Every user error, the output
/// location included, is raised before the long work; nothing is written on failure. A checkpoint that
/// does not fit the memory budget (or any, when forced) is pruned layer by layer instead (<see cref="LayerwisePruneJob"/>),
/// with a byte-identical checkpoint. With a GGUF file (<see cref="GgufOutput"/>) that file is exported from the written
/// checkpoint; a global budget (layers may keep different counts) and what GGUF cannot hold are refused up front.
/// </summary>
public static class PruneJob
{
    public const string RecordFile = PruneExport.RecordFile;

    /// <param name="layerProgress">Progress of a layer-by-layer run (<see cref="LayerwisePruneJob"/>; hooks need the model in memory).</param>
    public static PruneResult Run(PruneRequest request, Action<ScoringProgress>? progress = null, RoundHooks? hooks = null,
                                  Action<Layerwise.LayerwiseProgress>? layerProgress = null)
    {
        var spec = request.ToRound();
        PruneCost.Check(request.Evaluation, request.Names);
        PruneExport.CheckOutDir(request.OutDir, request.Force, request.Names);
        GgufOutput.Claim(request.GgufFile, request.Force, request.Names);
        if (request.GgufFile is not null) CheckGguf(request, spec);
        var result = Prune(request, spec, progress, hooks, layerProgress);
        GgufOutput.Write(result.OutDir, request.GgufFile);
        return result with { GgufFile = request.GgufFile };
    }

    private static PruneResult Prune(PruneRequest request, RoundSpec spec, Action<ScoringProgress>? progress, RoundHooks? hooks,
                                     Action<Layerwise.LayerwiseProgress>? layerProgress)
    {
        if (hooks is not null && request.Execution.Force)
            throw new MoePruneException($"{request.Names[OptionNames.Layerwise]}: this prune runs hooks (fine-tuning, evaluation) that need the model in memory");
        if (hooks is null)
            using (var checkpoint = Layerwise.LayerwiseCheckpoint.Open(request.ModelDir, request.Dtype))
            {
                var choice = Layerwise.ExecutionChoice.Decide(checkpoint, request.Execution, request.Names);
                if (choice.Layerwise) return LayerwisePruneJob.Run(request, spec, checkpoint, choice, layerProgress);
            }
        using var model = ModelLoader.Load(request.ModelDir, request.Dtype);
        var input = new RoundInput(1, model, ExpertLineage.Identity(model.MoeLayers), request.ModelDir);
        using var round = PruneRound.Run(input, spec, hooks, progress);
        var record = PruneJobRecord.Build(request.ModelDir, model, [round.ToRecord()], round.LineageAfter);
        MarkPortable(record, round.Choice.Selections.Values);
        record["cost"] = PruneCost.Measure(round, request.ModelDir, request.Evaluation);
        PruneExport.Write(round, request.OutDir, request.ModelDir, record);
        return new PruneResult(request.OutDir, record, round.Choice.Selections);
    }

    /// <summary>
    /// The GGUF refusals that need no calibration: a global budget (GGUF holds one expert count), and everything
    /// <see cref="GgufOutput.Check"/> finds in the result's config (a keep-map's counts applied).
    /// </summary>
    private static void CheckGguf(PruneRequest request, RoundSpec spec)
    {
        var n = request.Names;
        if (spec.NonUniform)
            throw new MoePruneException($"{n[OptionNames.Gguf]}: {n[OptionNames.Global]} lets layers keep different expert counts, "
                                        + "which a GGUF file cannot hold (one expert_count); give one of them");
        var config = MoeConfig.Load(Path.Combine(request.ModelDir, CheckpointDirectory.ConfigFile));
        if (spec.KeepMapFile is { } keepMap)
            config = ResolvedExpertPlan.Resolve(config, ExpertPlan.Keep(PruneJobKeepMap.Load(keepMap)), allowNonUniform: true).Config;
        GgufOutput.Check(config, request.ModelDir, spec.KeepMapFile);
    }

    /// <summary>Records whether the result has one expert count (portable) and, when not, why stock transformers cannot load it.</summary>
    internal static void MarkPortable(JsonObject record, IEnumerable<LayerSelection> selections)
    {
        var counts = selections.Select(s => s.Kept.Length).Distinct().Count();
        record["portable"] = counts <= 1;
        if (counts > 1)
            record["portable_note"] = "expert counts differ across layers (moeprune_experts_per_layer in config.json): "
                                      + "stock transformers cannot load this checkpoint; MoePrune can";
    }
}
