using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Jobs;

/// <summary>The written checkpoint, its <c>pruning.json</c>, and the per-layer choice (original expert indices).</summary>
public sealed record PruneResult(string OutDir, JsonObject Record, SortedDictionary<int, LayerSelection> Selections);

/// <summary>
/// <c>moeprune prune</c> as a library call: load the checkpoint, run ONE <see cref="PruneRound"/> on it (criterion
/// scores + selection, NAEE's subsets, or a keep-map), and export a standard Hugging Face checkpoint with
/// <c>pruning.json</c> in the same atomically renamed directory (<see cref="PruneExport"/>), recording whether the
/// result is portable (one expert count) and what it cost (<see cref="PruneCost"/>). Every user error, the output
/// location included, is raised before the long work; nothing is written on failure.
/// </summary>
public static class PruneJob
{
    public const string RecordFile = PruneExport.RecordFile;

    public static PruneResult Run(PruneRequest request, Action<ScoringProgress>? progress = null, RoundHooks? hooks = null)
    {
        var spec = request.ToRound();
        PruneCost.Check(request.Evaluation, request.Names);
        PruneExport.CheckOutDir(request.OutDir, request.Force, request.Names);
        using var model = ModelLoader.Load(request.ModelDir, request.Dtype);
        var input = new RoundInput(1, model, ExpertLineage.Identity(model.MoeLayers), request.ModelDir);
        using var round = PruneRound.Run(input, spec, hooks, progress);
        var record = PruneJobRecord.Build(request.ModelDir, model, [round.ToRecord()], round.LineageAfter);
        var counts = round.Choice.Selections.Values.Select(s => s.Kept.Length).Distinct().Count();
        record["portable"] = counts <= 1;
        if (counts > 1)
            record["portable_note"] = "expert counts differ across layers (moeprune_experts_per_layer in config.json): "
                                      + "stock transformers cannot load this checkpoint; MoePrune can";
        record["cost"] = PruneCost.Measure(round, request.ModelDir, request.Evaluation);
        PruneExport.Write(round, request.OutDir, request.ModelDir, record);
        return new PruneResult(request.OutDir, record, round.Choice.Selections);
    }
}
