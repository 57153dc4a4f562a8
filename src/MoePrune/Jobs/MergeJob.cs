using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Models;
using MoePrune.Pruning;
using static TorchSharp.torch;

namespace MoePrune.Jobs;

/// <summary>What <see cref="MergeJob.Run"/> does: merge <see cref="ModelDir"/> by <see cref="Spec"/> into <see cref="OutDir"/>.</summary>
public sealed record MergeRequest
{
    public required string ModelDir { get; init; }
    public required string OutDir { get; init; }
    /// <summary>Replace an existing non-empty <see cref="OutDir"/> (and <see cref="GgufFile"/>) at the end, atomically.</summary>
    public bool Force { get; init; }
    public required MergeSpec Spec { get; init; }
    /// <summary>Also write this GGUF file from the merged checkpoint (uniform expert counts only).</summary>
    public string? GgufFile { get; init; }
    /// <summary>Compute dtype of the model (and of the written checkpoint); the checkpoint's when null.</summary>
    public ScalarType? Dtype { get; init; }
    /// <summary>In memory or layer by layer (<see cref="LayerwiseMergeJob"/>): forced, or chosen by the memory budget.</summary>
    public Layerwise.LayerwiseSettings Execution { get; init; } = new();
}

/// <summary>The written checkpoint, its <c>merging.json</c>, the GGUF file, and the layer-by-layer run's summary when it ran so.</summary>
public sealed record MergeResult(string OutDir, JsonObject Record, string? GgufFile, Layerwise.LayerwiseSummary? Layerwise = null);

/// <summary>
/// <c>moeprune merge</c> as a library call: load the checkpoint, run ONE <see cref="MergeRound"/> on it and export a
/// standard Hugging Face checkpoint (r experts and r router rows per layer, the config's expert count updated) with
/// <c>merging.json</c> in the same atomically renamed directory; with a GGUF file, that file too. Every user error
/// (counts, groups map, output locations, what GGUF cannot hold) is raised before the calibration pass and before
/// anything is written. <paramref name="hooks"/> run on the merged model before the export (a fine-tune hook
/// for router recalibration or distillation; the export then writes the fine-tuned weights). A checkpoint that does not
/// fit the memory budget (or any, when forced) is merged layer by layer (<see cref="LayerwiseMergeJob"/>) with the same
/// output; hooks need the model in memory.
/// </summary>
public static class MergeJob
{
    /// <param name="layerProgress">Progress of a layer-by-layer run.</param>
    public static MergeResult Run(MergeRequest request, Action<ScoringProgress>? progress = null, RoundHooks? hooks = null,
                                  Action<Layerwise.LayerwiseProgress>? layerProgress = null)
    {
        var spec = request.Spec;
        spec.Check();
        PruneExport.CheckOutDir(request.OutDir, request.Force, spec.Names);
        GgufOutput.Claim(request.GgufFile, request.Force, spec.Names);
        if (hooks is not null && request.Execution.Force)
            throw new MoePruneException($"{spec.Names[OptionNames.Layerwise]}: this merge runs hooks (fine-tuning, evaluation) that need the model in memory");
        if (hooks is null)
            using (var checkpoint = Layerwise.LayerwiseCheckpoint.Open(request.ModelDir, request.Dtype))
            {
                var choice = Layerwise.ExecutionChoice.Decide(checkpoint, request.Execution, spec.Names, besideModel: MergedExpertBytes(checkpoint, spec));
                if (choice.Layerwise) return LayerwiseMergeJob.Run(request, checkpoint, choice, layerProgress);
            }
        using var model = ModelLoader.Load(request.ModelDir, request.Dtype);
        var input = new RoundInput(1, model, ExpertLineage.Identity(model.MoeLayers), request.ModelDir);
        if (request.GgufFile is not null) CheckGguf(request, model.Config, MergeRound.Check(input, spec));
        using var round = MergeRound.Run(input, spec, hooks, progress);
        var record = MergeRecord.Build(request.ModelDir, model, [round.ToRecord()], round.LineageAfter);
        PruneExport.Write(round, request.OutDir, request.ModelDir, record, MergeRecord.File);
        GgufOutput.Write(request.OutDir, request.GgufFile);
        return new MergeResult(request.OutDir, record, request.GgufFile);
    }

    /// <summary>
    /// At most what an in-memory merge holds beside the model: per merged layer, min(r, E − r) merged experts of two or more
    /// members (every such group lowers the count by at least one), each 3·I·H values in the compute dtype.
    /// </summary>
    internal static long MergedExpertBytes(Layerwise.LayerwiseCheckpoint checkpoint, MergeSpec spec)
    {
        var config = checkpoint.Config;
        var experts = checkpoint.MoeShapes.ToDictionary(kv => kv.Key, kv => kv.Value.NumExperts);
        var counts = MergeRound.Plan(config, experts, ExpertLineage.Identity(experts), spec).Counts;
        long expert = 3L * config.HiddenSize * config.ExpertIntermediateSize * IO.SafeDtypes.SizeOf(IO.SafeDtypes.FromTorch(checkpoint.Dtype));
        return counts.Sum(kv => Math.Min(kv.Value, experts[kv.Key] - kv.Value) * expert);
    }

    /// <summary>What a GGUF file cannot hold in the merged config (the round's counts applied), refused before any pass.</summary>
    internal static void CheckGguf(MergeRequest request, MoeConfig config, IReadOnlyDictionary<int, int> counts)
    {
        var spec = request.Spec;
        var merged = ResolvedExpertPlan.Resolve(config, MergeSpec.CountPlan(config, counts, spec.DropMtp), spec.NonUniform).Config;
        GgufOutput.Check(merged, request.ModelDir);
    }
}
