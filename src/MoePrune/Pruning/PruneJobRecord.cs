using System.Reflection;
using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Models;

namespace MoePrune.Pruning;

/// <summary>
/// <c>pruning.json</c>: tool and version, the input checkpoint's path and fingerprint, how experts were
/// chosen (method, criterion, direction, the selection request), the calibration data, and per decoder
/// layer the kept and removed original expert indices with the criterion's values.
/// </summary>
public static class PruneJobRecord
{
    public static string ToolVersion =>
        typeof(PruneJobRecord).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(PruneJobRecord).Assembly.GetName().Version?.ToString() ?? "unknown";

    public static JsonObject Build(PruneRequest request, CriterionSpec? spec, PruneChoice choice, string hash, MoeForCausalLM model)
    {
        var layers = new JsonObject();
        foreach (var (index, s) in choice.Selections)
        {
            var layer = new JsonObject
            {
                ["experts"] = s.NumExperts,
                ["kept"] = Ints(s.Kept),
                ["removed"] = Ints(s.Removed),
            };
            if (choice.Scores?.Layers.TryGetValue(index, out var values) == true)
                layer["scores"] = new JsonArray(values.Values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
            layers[index.ToString()] = layer;
        }
        var sel = request.Selection;
        return new JsonObject
        {
            ["tool"] = "moeprune",
            ["tool_version"] = ToolVersion,
            ["created_utc"] = DateTime.UtcNow.ToString("o"),
            ["input"] = new JsonObject
            {
                ["model_dir"] = Path.GetFullPath(request.ModelDir),
                ["model_type"] = model.Config.ModelType,
                ["checkpoint_sha256"] = hash,
                ["dtype"] = DtypeNames.ToConfigName(model.Dtype),
            },
            ["method"] = choice.Method,
            ["criterion"] = spec?.Name,
            ["direction"] = choice.Scores is null ? null : choice.Scores.Drops == DropDirection.Max ? "max" : "min",
            ["selection"] = new JsonObject
            {
                ["drop"] = sel.Drop, ["keep"] = sel.Keep, ["ratio"] = sel.Ratio, ["global"] = sel.Global,
                ["protect"] = new JsonArray(sel.Protect.Select(p => (JsonNode)JsonValue.Create($"{p.Layer}:{p.Expert}")).ToArray()),
            },
            ["scores_file"] = request.ScoresFile is null ? null : Path.GetFullPath(request.ScoresFile),
            ["keep_map_file"] = request.KeepMapFile is null ? null : Path.GetFullPath(request.KeepMapFile),
            ["calibration"] = choice.Calibration,
            ["layers"] = layers,
        };
    }

    private static JsonArray Ints(IEnumerable<int> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
}
