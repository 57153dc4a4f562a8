using System.Text.Json.Nodes;

namespace MoePrune.Tests.Reports;

/// <summary>Seeded synthetic scores.json / pruning.json / similarity JSON in the shapes MoePrune writes, plus the committed one-shot study.</summary>
static class ReportTestInputs
{
    public const int Layers = 3, Experts = 6;

    public static string StudyJson()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "docs", "results-one-shot.json");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException("docs/results-one-shot.json not found");
    }

    /// <summary>Writes scores.json, pruning.json (min-ean, 2 experts removed per layer) and similarity.json into <paramref name="dir"/>.</summary>
    public static void Write(string dir)
    {
        var rng = new Random(5);
        var criteria = new JsonObject();
        foreach (var (name, drops) in new[] { ("min-ean", "min"), ("max-rwn", "max"), ("min-frequency", "min") })
        {
            var layers = new JsonObject();
            for (int l = 0; l < Layers; l++)
                layers[l.ToString()] = new JsonObject
                {
                    ["top_k"] = 2,
                    ["values"] = new JsonArray(Enumerable.Range(0, Experts).Select(_ => (JsonNode)(name == "min-frequency"
                        ? 2.0 / Experts * (0.5 + rng.NextDouble()) : 1000 * rng.NextDouble())).ToArray()),
                };
            criteria[name] = new JsonObject { ["drops"] = drops, ["layers"] = layers };
        }
        File.WriteAllText(Path.Combine(dir, "scores.json"), new JsonObject
        {
            ["metadata"] = new JsonObject { ["calibration"] = "synthetic (test)", ["tokens"] = 1024 },
            ["criteria"] = criteria,
        }.ToJsonString());

        var pruningLayers = new JsonObject();
        for (int l = 0; l < Layers; l++)
        {
            var ean = criteria["min-ean"]!["layers"]![l.ToString()]!["values"]!.AsArray().Select(v => (double)v!).ToArray();
            var removed = Enumerable.Range(0, Experts).OrderBy(e => ean[e]).Take(2).Order().ToArray();
            pruningLayers[l.ToString()] = new JsonObject
            {
                ["experts"] = Experts,
                ["kept"] = new JsonArray(Enumerable.Range(0, Experts).Except(removed).Select(e => (JsonNode)e).ToArray()),
                ["removed"] = new JsonArray(removed.Select(e => (JsonNode)e).ToArray()),
            };
        }
        File.WriteAllText(Path.Combine(dir, "pruning.json"), new JsonObject
        {
            ["tool"] = "moeprune", ["method"] = "uniform", ["criterion"] = "min-ean", ["direction"] = "min", ["layers"] = pruningLayers,
        }.ToJsonString());

        var sim = new JsonObject();
        for (int l = 0; l < 2; l++)
        {
            var m = new double[Experts, Experts];
            for (int i = 0; i < Experts; i++)
                for (int j = 0; j <= i; j++) m[i, j] = m[j, i] = i == j ? 1 : rng.NextDouble();
            sim[l.ToString()] = new JsonArray(Enumerable.Range(0, Experts).Select(i =>
                (JsonNode)new JsonArray(Enumerable.Range(0, Experts).Select(j => (JsonNode)m[i, j]).ToArray())).ToArray());
        }
        File.WriteAllText(Path.Combine(dir, "similarity.json"), new JsonObject { ["similarity"] = new JsonObject { ["router-logit cosine"] = sim } }.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"model_type": "mixtral"}""");   // ignored: not a report input
    }

    /// <summary>The value at RFC 6901 pointer <paramref name="pointer"/> (resolved here, independently of the report code).</summary>
    public static JsonNode? At(JsonNode root, string pointer)
    {
        JsonNode? node = root;
        foreach (var raw in pointer.Split('/').Skip(1))
        {
            string key = raw.Replace("~1", "/").Replace("~0", "~");
            node = node switch
            {
                JsonObject o => o[key],
                JsonArray a => a[int.Parse(key)],
                _ => null,
            };
        }
        return node;
    }
}
