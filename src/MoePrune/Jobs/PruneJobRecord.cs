using System.Reflection;
using System.Text.Json.Nodes;
using MoePrune.Models;

namespace MoePrune.Jobs;

/// <summary>
/// <c>pruning.json</c>: tool and version, the input checkpoint's path and fingerprint, how experts were chosen
/// (method, criterion, direction; for a single round also its selection request, files and calibration), per
/// MoE layer the kept and removed ORIGINAL expert indices after every round (with the criterion's values for a
/// single round), the MTP layers' rule and kept originals (<c>mtp</c>, <see cref="MtpChoice.Compose"/>, when the model has
/// them), and <c>rounds</c>: every round's record (<see cref="RoundRecord"/>), one entry for a one-shot prune.
/// </summary>
public static class PruneJobRecord
{
    public static string ToolVersion =>
        typeof(PruneJobRecord).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(PruneJobRecord).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <param name="input">The model as loaded from <paramref name="modelDir"/> (round 1's parent).</param>
    /// <param name="rounds">Each round's record, in order.</param>
    /// <param name="lineage">The lineage after the last round.</param>
    public static JsonObject Build(string modelDir, MoeForCausalLM input, IReadOnlyList<JsonObject> rounds, ExpertLineage lineage)
    {
        if (rounds.Count == 0) throw new ArgumentException("a prune record needs at least one round", nameof(rounds));
        bool single = rounds.Count == 1;
        var first = rounds[0];
        var layers = new JsonObject();
        foreach (int index in lineage.Layers)
        {
            var layer = new JsonObject
            {
                ["experts"] = lineage.OriginalCount(index),
                ["kept"] = Ints(lineage.KeptOriginals(index)),
                ["removed"] = Ints(lineage.RemovedOriginals(index)),
            };
            if (single && first["layers"]?[index.ToString()]?["scores"] is JsonNode scores)
                layer["scores"] = scores.DeepClone();
            layers[index.ToString()] = layer;
        }
        var record = new JsonObject
        {
            ["tool"] = "moeprune",
            ["tool_version"] = ToolVersion,
            ["created_utc"] = DateTime.UtcNow.ToString("o"),
            ["input"] = new JsonObject
            {
                ["model_dir"] = Path.GetFullPath(modelDir),
                ["model_type"] = input.Config.ModelType,
                ["checkpoint_fingerprint"] = input.Fingerprint,
                ["dtype"] = DtypeNames.ToConfigName(input.Dtype),
            },
            ["method"] = Common(rounds, "method"),
            ["criterion"] = Common(rounds, "criterion"),
            ["direction"] = Common(rounds, "direction"),
            ["selection"] = single ? first["selection"]?.DeepClone() : null,
            ["scores_file"] = single ? first["scores_file"]?.DeepClone() : null,
            ["keep_map_file"] = single ? first["keep_map_file"]?.DeepClone() : null,
            ["calibration"] = single ? first["calibration"]?.DeepClone() : null,
            ["layers"] = layers,
        };
        if (MtpChoice.Compose(rounds) is { } mtp) record["mtp"] = mtp;
        record["rounds"] = new JsonArray(rounds.Select(r => (JsonNode)r.DeepClone()).ToArray());
        return record;
    }

    /// <summary>The value of <paramref name="key"/> when every round has the same one, else null.</summary>
    private static JsonNode? Common(IReadOnlyList<JsonObject> rounds, string key) =>
        rounds.All(r => JsonNode.DeepEquals(r[key], rounds[0][key])) ? rounds[0][key]?.DeepClone() : null;

    private static JsonArray Ints(IEnumerable<int> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
}
