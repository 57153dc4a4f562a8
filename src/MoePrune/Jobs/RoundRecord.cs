using System.Text.Json.Nodes;
using MoePrune.Criteria;

namespace MoePrune.Jobs;

/// <summary>
/// The record of one round: how it chose (method, criterion, direction, the selection request, files read,
/// calibration), and per MoE layer the experts before the round, the experts kept and removed in ORIGINAL
/// indices (through the lineage), the same in the round model's slot indices, and the criterion's values per slot;
/// what it did to the MTP layers (<c>mtp</c>, when the model has them); then what the hooks recorded.
/// </summary>
public static class RoundRecord
{
    public static JsonObject Build(RoundContext round)
    {
        var spec = round.Spec;
        var choice = round.Choice;
        var layers = new JsonObject();
        foreach (var (index, s) in choice.Selections)
        {
            var layer = new JsonObject
            {
                ["experts"] = s.NumExperts,
                ["kept"] = Ints(round.LineageBefore.Originals(index, s.Kept)),
                ["removed"] = Ints(round.LineageBefore.Originals(index, s.Removed)),
                ["kept_slots"] = Ints(s.Kept),
                ["removed_slots"] = Ints(s.Removed),
            };
            if (choice.Scores?.Layers.TryGetValue(index, out var values) == true)
                layer["scores"] = new JsonArray(values.Values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
            layers[index.ToString()] = layer;
        }
        var record = new JsonObject
        {
            ["round"] = round.Round,
            ["method"] = choice.Method,
            ["criterion"] = spec.Criterion?.Name,
            ["direction"] = choice.Scores is null ? null : choice.Scores.Drops == DropDirection.Max ? "max" : "min",
            ["selection"] = spec.SelectionJson(),
            ["scores_file"] = spec.ScoresFile is null ? null : Path.GetFullPath(spec.ScoresFile),
            ["keep_map_file"] = spec.KeepMapFile is null ? null : Path.GetFullPath(spec.KeepMapFile),
            ["calibration"] = choice.Calibration?.DeepClone(),
            ["layers"] = layers,
        };
        if (round.Mtp is { } mtp) record["mtp"] = mtp.ToJson();
        if (round.FineTune is not null) record["finetune"] = round.FineTune.DeepClone();
        if (round.Evaluation is not null) record["evaluation"] = round.Evaluation.DeepClone();
        return record;
    }

    private static JsonArray Ints(IEnumerable<int> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
}
