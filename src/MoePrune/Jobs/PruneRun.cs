using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Models;
using MoePrune.Pruning;
using static TorchSharp.torch;

namespace MoePrune.Jobs;

/// <summary>What <see cref="PruneRun.Run"/> does: the rounds, where to keep them and where to export.</summary>
public sealed record PruneRunRequest
{
    public required string ModelDir { get; init; }
    /// <summary>The rounds, in order (a scores file is only accepted in the first).</summary>
    public required IReadOnlyList<RoundSpec> Rounds { get; init; }
    /// <summary>Export the final model here (must not exist or be empty); null: no export.</summary>
    public string? OutDir { get; init; }
    /// <summary>Replace an existing non-empty <see cref="OutDir"/> (at the end, atomically).</summary>
    public bool Force { get; init; }
    /// <summary>Run folder; null: nothing is kept between rounds.</summary>
    public string? WorkDir { get; init; }
    /// <summary>Continue the run in <see cref="WorkDir"/> after its last finished round.</summary>
    public bool Resume { get; init; }
    public ScalarType? Dtype { get; init; }
    /// <summary>Further settings that decide the outcome (fine-tuning, evaluation), stored in run.json and compared on resume.</summary>
    public JsonObject? Settings { get; init; }
}

/// <summary>The final record (also written as pruning.json when exported), lineage and every round's record.</summary>
public sealed record PruneRunResult(JsonObject Record, ExpertLineage Lineage, IReadOnlyList<JsonObject> Rounds);

/// <summary>
/// Several pruning rounds on one checkpoint, each on the model the previous round left (iterative pruning;
/// with a fine-tune hook, lottery pruning), optionally recorded in a resumable <see cref="RunFolder"/> and
/// exported at the end with a <c>pruning.json</c> that lists every round. A resumed run continues after
/// its last finished round, from the round's saved model or (no fine-tuning) the original model with the
/// lineage's experts kept, and ends with the same tensors as an uninterrupted run.
/// </summary>
public static class PruneRun
{
    public static PruneRunResult Run(PruneRunRequest r, RoundHooks? hooks = null, Action<ScoringProgress>? progress = null) =>
        Run(r, _ => hooks ?? RoundHooks.None, progress);

    /// <summary>
    /// As <see cref="Run(PruneRunRequest, RoundHooks?, Action{ScoringProgress}?)"/>, with hooks made for the original
    /// model as loaded (a distillation teacher, the parent of a KL measurement); they must not change it.
    /// </summary>
    public static PruneRunResult Run(PruneRunRequest r, Func<MoeForCausalLM, RoundHooks> hooksFor, Action<ScoringProgress>? progress = null)
    {
        if (r.Rounds.Count == 0) throw new MoePruneException("pruning run: no round given");
        foreach (var spec in r.Rounds) spec.Check();
        if (r.Rounds.Skip(1).FirstOrDefault(s => s.ScoresFile is not null) is { } late)
            throw new MoePruneException($"{late.ScoresFile}: a scores file applies to the checkpoint as loaded, so only to the first round");
        if (r.OutDir is not null) PruneExport.CheckOutDir(r.OutDir, r.Force);
        using var original = ModelLoader.Load(r.ModelDir, r.Dtype);
        var hooks = hooksFor(original);
        bool saveModels = hooks.FineTune is not null;
        var folder = r.WorkDir is null ? null : RunFolder.Open(r.WorkDir, Settings(r, original), r.Resume);

        var records = new List<JsonObject>();
        var lineage = ExpertLineage.Identity(original.MoeLayers);
        MoeForCausalLM current = original;
        RoundContext? last = null;
        try
        {
            int done = folder?.CompletedRounds ?? 0;
            if (done > 0)
            {
                for (int k = 1; k <= done; k++) records.Add(folder!.LoadRecord(k));
                lineage = folder!.LoadLineage(done);
                current = folder.SavedModel(done) is { } saved
                    ? ModelLoader.Load(saved, r.Dtype)
                    : ExpertSurgery.Apply(original, KeepOriginals(original, lineage, r.Rounds.Take(done).Any(s => s.DropMtp)),
                                          r.Rounds.Any(s => s.NonUniform));
            }
            for (int k = done + 1; k <= r.Rounds.Count; k++)
            {
                var round = PruneRound.Run(new RoundInput(k, current, lineage, r.ModelDir), r.Rounds[k - 1], hooks, progress);
                var record = round.ToRecord();
                folder?.SaveRound(round, record, saveModels);
                records.Add(record);
                lineage = round.LineageAfter;
                if (k == r.Rounds.Count) { last = round; break; }
                var next = round.TakeModel();
                round.Dispose();
                if (!ReferenceEquals(current, original)) current.Dispose();
                current = next;
            }
            var result = PruneJobRecord.Build(r.ModelDir, original, records, lineage);
            if (r.OutDir is not null)
            {
                if (last is not null) PruneExport.Write(last, r.OutDir, r.ModelDir, result);
                else PruneExport.WriteModel(current, r.OutDir, r.ModelDir, new Dictionary<string, JsonNode> { [PruneExport.RecordFile] = result });
            }
            return new PruneRunResult(result, lineage, records);
        }
        finally
        {
            last?.Dispose();
            if (!ReferenceEquals(current, original)) current.Dispose();
        }
    }

    /// <summary>
    /// The removal plan that rebuilds a removal-only lineage from the original model, MTP layers included: rounds that
    /// never change the weights keep the MTP experts of largest weight norm at every count, so choosing them once at the
    /// final count gives the rounds' composition.
    /// </summary>
    private static ExpertPlan KeepOriginals(MoeForCausalLM original, ExpertLineage lineage, bool mtpDropped)
    {
        if (lineage.Layers.Any(l => Enumerable.Range(0, lineage.Slots(l)).Any(s => lineage.Originals(l, s).Count != 1)))
            throw new MoePruneException("pruning run: a round merged experts but saved no model; the run cannot be resumed");
        var main = lineage.Layers.Select(l => LayerSelection.FromRemoved(l, lineage.OriginalCount(l), lineage.RemovedOriginals(l)));
        var counts = lineage.Layers.Select(lineage.Slots).Distinct().ToList();
        var mtp = MtpChoice.For(original, counts.Count == 1 ? counts[0] : original.Config.NumExperts, mtpDropped);
        return MtpChoice.KeepPlan(main, mtp);
    }

    /// <summary>What decides the run's outcome; a resumed run must have the same.</summary>
    private static JsonObject Settings(PruneRunRequest r, MoeForCausalLM original)
    {
        var settings = new JsonObject
        {
            ["model_dir"] = Path.GetFullPath(r.ModelDir),
            ["checkpoint_fingerprint"] = original.Fingerprint,
            ["dtype"] = DtypeNames.ToConfigName(original.Dtype),
            ["threads"] = TorchSharp.torch.get_num_threads(),
            ["rounds"] = new JsonArray(r.Rounds.Select(s => (JsonNode)s.ToJson()).ToArray()),
        };
        if (r.Settings is not null)
            foreach (var (key, value) in r.Settings) settings[key] = value?.DeepClone();
        return settings;
    }
}
