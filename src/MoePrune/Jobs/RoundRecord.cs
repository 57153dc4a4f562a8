using System.Text.Json.Nodes;
using MoePrune.Criteria;

namespace MoePrune.Jobs;

/// <summary>
/// The record of one round: how it chose (method, criterion, direction, the selection request, files read,
/// calibration), and per MoE layer the experts before the round, the experts kept and removed in ORIGINAL
/// indices (through the lineage), the same in the round model's slot indices, and the criterion's values per slot;
/// what it did to the MTP layers (<c>mtp</c>, when the model has them); then what the hooks recorded. A merge round's
/// record is <see cref="MergeRecord.Round"/>.
/// </summary>
public static class RoundRecord
{
    public static JsonObject Build(RoundContext round) => round.Merge is not null
        ? MergeRecord.Round(round)
        : Build(round.Round, round.Spec, round.Choice, round.LineageBefore, round.Mtp, round.FineTune, round.Evaluation);

    /// <summary>The record of a round given by its parts (a layer-by-layer prune has no in-memory round).</summary>
    public static JsonObject Build(int roundNumber, RoundSpec spec, RoundChoice choice, ExpertLineage before,
                                   MtpChoice? mtp = null, JsonNode? fineTune = null, JsonNode? evaluation = null)
    {
        var layers = new JsonObject();
        foreach (var (index, s) in choice.Selections)
        {
            var layer = new JsonObject
            {
                ["experts"] = s.NumExperts,
                ["kept"] = Ints(before.Originals(index, s.Kept)),
                ["removed"] = Ints(before.Originals(index, s.Removed)),
                ["kept_slots"] = Ints(s.Kept),
                ["removed_slots"] = Ints(s.Removed),
            };
            if (choice.Scores?.Layers.TryGetValue(index, out var values) == true)
                layer["scores"] = new JsonArray(values.Values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
            layers[index.ToString()] = layer;
        }
        var record = new JsonObject
        {
            ["round"] = roundNumber,
            ["method"] = choice.Method,
            ["criterion"] = spec.Criterion?.Name,
            ["direction"] = choice.Scores is null ? null : choice.Scores.Drops == DropDirection.Max ? "max" : "min",
            ["selection"] = spec.SelectionJson(),
            ["scores_file"] = spec.ScoresFile is null ? null : Path.GetFullPath(spec.ScoresFile),
            ["keep_map_file"] = spec.KeepMapFile is null ? null : Path.GetFullPath(spec.KeepMapFile),
            ["calibration"] = choice.Calibration?.DeepClone(),
            ["layers"] = layers,
        };
        if (mtp is not null) record["mtp"] = mtp.ToJson();
        if (fineTune is not null) record["finetune"] = fineTune.DeepClone();
        if (evaluation is not null) record["evaluation"] = evaluation.DeepClone();
        return record;
    }

    private static JsonArray Ints(IEnumerable<int> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
}
