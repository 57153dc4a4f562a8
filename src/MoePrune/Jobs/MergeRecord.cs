using System.Text.Json.Nodes;
using MoePrune.Merging;
using MoePrune.Models;

namespace MoePrune.Jobs;

/// <summary>
/// The records of merging: a merge round's record (<see cref="Round"/>, also what <see cref="RoundRecord.Build"/>
/// returns for a merge round) and <c>merging.json</c> (<see cref="Build"/>). Groups are written in ORIGINAL expert
/// indices (through the lineage) and in the round model's slot indices; merged expert n of a layer is group n.
/// </summary>
public static class MergeRecord
{
    public const string File = "merging.json";

    /// <summary>
    /// Per merged layer: expert count before, groups (original and slot indices), coefficients α per member, output
    /// scales, the partition method that ran and its objective, the similarity matrix, routed-token counts, input
    /// rows read and the learned merge's report; then the spec, calibration, timings and what the hooks recorded.
    /// </summary>
    public static JsonObject Round(RoundContext round) =>
        Round(round.Round, round.Merge ?? throw new ArgumentException("not a merge round", nameof(round)), round.LineageBefore, round.Mtp,
              round.FineTune, round.Evaluation);

    /// <summary>The same from the round's parts (a layer-by-layer merge has no in-memory round).</summary>
    public static JsonObject Round(int roundNumber, MergeOutcome outcome, ExpertLineage before, MtpChoice? mtp = null,
                                   JsonNode? fineTune = null, JsonNode? evaluation = null)
    {
        var layers = new JsonObject();
        foreach (var (index, r) in outcome.Layers)
        {
            var groups = r.Grouping.Groups;
            var layer = new JsonObject
            {
                ["experts"] = r.Grouping.NumExperts,
                ["merged_experts"] = groups.Count,
                ["groups"] = Nested(groups.Select(g => before.Originals(index, g))),
                ["group_slots"] = Nested(groups),
                ["coefficients"] = new JsonArray(r.Merged.Experts.Select(e => (JsonNode)Numbers(e.Coefficients)).ToArray()),
                ["scales"] = Numbers(r.Merged.Experts.Select(e => e.Scale)),
                ["partition"] = r.Partition is { } p ? new JsonObject
                {
                    ["method"] = MergeChoices.Name(p.Method),
                    ["objective"] = MergeChoices.Name(outcome.Spec.ObjectiveKind),
                    ["objective_value"] = Number(p.Objective),
                } : null,
                ["similarity"] = r.Similarity is { } s ? new JsonObject { ["kind"] = s.Kind, ["matrix"] = new JsonArray(s.ToRows().Select(row => (JsonNode)Numbers(row)).ToArray()) } : null,
                ["routed_counts"] = outcome.RoutedCounts.TryGetValue(index, out var counts) ? Numbers(counts) : null,
                ["input_rows"] = outcome.InputRows.TryGetValue(index, out int rows) ? rows : null,
                ["learned"] = r.Merged.Learned is { } l ? new JsonObject
                {
                    ["train_rows"] = l.TrainRows, ["held_out_rows"] = l.HeldOutRows, ["steps"] = l.Steps, ["learning_rate"] = l.LearningRate,
                    ["uniform_train_error"] = Number(l.UniformTrainError), ["train_error"] = Number(l.TrainError),
                    ["uniform_held_out_error"] = Number(l.UniformHeldOutError), ["held_out_error"] = Number(l.HeldOutError),
                } : null,
            };
            layers[index.ToString()] = layer;
        }
        var record = new JsonObject
        {
            ["round"] = roundNumber,
            ["method"] = MergeRound.Method,
            ["merge"] = outcome.Spec.ToJson(),
            ["calibration"] = outcome.Calibration?.DeepClone(),
            ["calibration_tokens"] = outcome.CalibrationTokens,
            ["calibration_seconds"] = outcome.CalibrationSeconds,
            ["merge_seconds"] = outcome.MergeSeconds,
            ["layers"] = layers,
        };
        if (mtp is not null) record["mtp"] = mtp.ToJson();
        if (fineTune is not null) record["finetune"] = fineTune.DeepClone();
        if (evaluation is not null) record["evaluation"] = evaluation.DeepClone();
        return record;
    }

    /// <summary>
    /// <c>merging.json</c>: tool and version, the input checkpoint (path, family, fingerprint, dtype), the merge
    /// settings, per MoE layer the expert count before and after and the groups of ORIGINAL experts each output
    /// slot holds (after every round), the last round's calibration, and every round's record.
    /// </summary>
    public static JsonObject Build(string modelDir, MoeForCausalLM input, IReadOnlyList<JsonObject> rounds, ExpertLineage lineage) =>
        Build(modelDir, input.Config.ModelType, input.Fingerprint, input.Dtype, rounds, lineage);

    /// <summary>The same from the input checkpoint's family, fingerprint and compute dtype (a layer-by-layer merge builds no model).</summary>
    public static JsonObject Build(string modelDir, string modelType, string? fingerprint, TorchSharp.torch.ScalarType dtype,
                                   IReadOnlyList<JsonObject> rounds, ExpertLineage lineage)
    {
        if (rounds.Count == 0) throw new ArgumentException("a merge record needs at least one round", nameof(rounds));
        var layers = new JsonObject();
        foreach (int index in lineage.Layers)
        {
            int slots = lineage.Slots(index);
            layers[index.ToString()] = new JsonObject
            {
                ["experts"] = lineage.OriginalCount(index),
                ["merged_experts"] = slots,
                ["groups"] = Nested(Enumerable.Range(0, slots).Select(s => lineage.Originals(index, s))),
            };
        }
        var last = rounds[^1];
        var record = new JsonObject
        {
            ["tool"] = "moeprune",
            ["tool_version"] = PruneJobRecord.ToolVersion,
            ["created_utc"] = DateTime.UtcNow.ToString("o"),
            ["input"] = new JsonObject
            {
                ["model_dir"] = Path.GetFullPath(modelDir),
                ["model_type"] = modelType,
                ["checkpoint_fingerprint"] = fingerprint,
                ["dtype"] = DtypeNames.ToConfigName(dtype),
            },
            ["method"] = MergeRound.Method,
            ["merge"] = last["merge"]?.DeepClone(),
            ["calibration"] = last["calibration"]?.DeepClone(),
            ["layers"] = layers,
            ["rounds"] = new JsonArray(rounds.Select(r => (JsonNode)r.DeepClone()).ToArray()),
        };
        if (MtpChoice.Compose(rounds) is { } mtp) record["mtp"] = mtp;                  // as pruning.json's
        return record;
    }

    private static JsonArray Nested(IEnumerable<IEnumerable<int>> groups) =>
        new(groups.Select(g => (JsonNode)new JsonArray(g.Select(e => (JsonNode)e).ToArray())).ToArray());

    private static JsonArray Numbers(IEnumerable<double> values) => new(values.Select(Number).ToArray());

    /// <summary>A JSON number, or null for NaN and infinities (which JSON cannot hold).</summary>
    private static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;
}
