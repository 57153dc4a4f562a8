using System.Text.Json.Nodes;

namespace MoePrune.Reports.Html;

/// <summary>What a JSON file holds, recognised by its content (not its name).</summary>
public enum ReportInputKind
{
    /// <summary><c>scores.json</c>: <c>criteria</c> → name → <c>layers</c> → layer → <c>values</c> per expert.</summary>
    Scores,
    /// <summary><c>pruning.json</c>: <c>layers</c> → layer → <c>kept</c> / <c>removed</c> original expert indices.</summary>
    Pruning,
    /// <summary>A study (e.g. docs/results-one-shot.json): <c>study</c>, <c>ratios</c>, <c>rows</c> → <c>ratios</c> → ratio → <c>mean</c>/<c>sd</c>.</summary>
    Study,
    /// <summary>Expert similarity matrices (merging): <c>similarity</c> → name → layer → E × E rows.</summary>
    Similarity,
}

/// <summary>One recognised input: its kind, where it came from, the name it gets in the report folder, and its JSON.</summary>
public sealed record ReportInput(ReportInputKind Kind, string Path, string Name, JsonObject Json);

/// <summary>
/// Finds the JSON files a report summarises: each path given is a JSON file or a directory whose <c>*.json</c>
/// files (not recursing) are read; files of no known kind (config.json, tokenizer files) are ignored. New kinds
/// (merging statistics, iterative and lottery studies) are recognised here and rendered by their own section.
/// </summary>
public static class ReportInputs
{
    public static IReadOnlyList<ReportInput> Find(IReadOnlyList<string> paths)
    {
        var inputs = new List<ReportInput>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            IEnumerable<string> files = Directory.Exists(path)
                ? Directory.GetFiles(path, "*.json").Order(StringComparer.Ordinal)
                : File.Exists(path) ? [path] : throw new MoePruneException($"{path}: no such file or directory");
            foreach (var file in files)
            {
                if (new FileInfo(file).Length > 256L << 20) continue;                     // not a summary file
                JsonObject? json;
                try { json = JsonNode.Parse(File.ReadAllText(file)) as JsonObject; }
                catch (System.Text.Json.JsonException e)
                {
                    if (!Directory.Exists(path)) throw new MoePruneException($"{file}: invalid JSON ({e.Message})");
                    continue;
                }
                if (json is null || Classify(json) is not ReportInputKind kind)
                {
                    if (!Directory.Exists(path)) throw new MoePruneException($"{file}: not a scores, pruning, study or similarity JSON");
                    continue;
                }
                string name = System.IO.Path.GetFileName(file);
                for (int i = 2; !names.Add(name); i++) name = $"{System.IO.Path.GetFileNameWithoutExtension(file)}-{i}.json";
                inputs.Add(new ReportInput(kind, file, name, json));
            }
        }
        if (inputs.Count == 0)
            throw new MoePruneException($"{string.Join(", ", paths)}: no scores.json, pruning.json, study or similarity JSON found");
        return inputs;
    }

    public static ReportInputKind? Classify(JsonObject json)
    {
        if (json["criteria"] is JsonObject) return ReportInputKind.Scores;
        if (json["rows"] is JsonArray && json["ratios"] is JsonArray) return ReportInputKind.Study;
        if (json["similarity"] is JsonObject) return ReportInputKind.Similarity;
        if (json["layers"] is JsonObject layers && layers.Select(l => l.Value).OfType<JsonObject>().Any(l => l["kept"] is JsonArray))
            return ReportInputKind.Pruning;
        return null;
    }
}
