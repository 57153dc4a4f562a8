using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Jobs;

/// <summary>The written checkpoint, its <c>pruning.json</c>, the per-layer choice (original expert indices), and what a layer-by-layer run did (null in memory).</summary>
public sealed record PruneResult(string OutDir, JsonObject Record, SortedDictionary<int, LayerSelection> Selections,
                                 Layerwise.LayerwiseSummary? Layerwise = null);

/// <summary>
/// <c>moeprune prune</c> as a library call: load the checkpoint, run ONE <see cref="PruneRound"/> on it (criterion
/// scores + selection, NAEE's subsets, or a keep-map), and export a standard Hugging Face checkpoint with
/// <c>pruning.json</c> in the same atomically renamed directory (<see cref="PruneExport"/>), recording whether the
/// result is portable (one expert count) and what it cost (<see cref="PruneCost"/>). Every user error, the output
/// location included, is raised before the long work; nothing is written on failure. A checkpoint that
/// does not fit the memory budget (or any, when forced) is pruned layer by layer instead (<see cref="LayerwisePruneJob"/>),
/// with a byte-identical checkpoint.
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
