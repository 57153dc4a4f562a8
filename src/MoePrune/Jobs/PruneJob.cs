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
/// <c>pruning.json</c> in the same atomically renamed directory (<see cref="PruneExport"/>). Every user error is
/// raised before anything is written.
/// </summary>
public static class PruneJob
{
    public const string RecordFile = PruneExport.RecordFile;

    public static PruneResult Run(PruneRequest request, Action<ScoringProgress>? progress = null, RoundHooks? hooks = null)
    {
        var spec = request.ToRound();
        PruneExport.CheckOutDir(request.OutDir);
        using var model = ModelLoader.Load(request.ModelDir, request.Dtype);
        var input = new RoundInput(1, model, ExpertLineage.Identity(model.MoeLayers), request.ModelDir);
        using var round = PruneRound.Run(input, spec, hooks, progress);
        var record = PruneJobRecord.Build(request.ModelDir, model, [round.ToRecord()], round.LineageAfter);
        PruneExport.Write(round, request.OutDir, request.ModelDir, record);
        return new PruneResult(request.OutDir, record, round.Choice.Selections);
    }
}
