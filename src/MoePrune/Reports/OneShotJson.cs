using System.Globalization;
using System.Text.Json.Nodes;
using MoePrune.Studies;

namespace MoePrune.Reports;

/// <summary>results.json of a one-shot study: setup, timing, reference rows and every row's perplexities and kept experts.</summary>
public static class OneShotJson
{
    public static JsonObject Render(OneShotStudyResult result)
    {
        var r = result.Request;
        return new JsonObject
        {
            ["study"] = "one-shot",
            ["started_utc"] = result.StartedUtc.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["model"] = new JsonObject { ["dir"] = Path.GetFullPath(r.ModelDir), ["summary"] = result.ModelSummary },
            ["evaluation"] = new JsonObject
            {
                ["description"] = result.Evaluation.Description, ["sequences"] = result.Evaluation.Sequences.Count,
                ["tokens"] = result.EvaluationTokens, ["seconds_per_evaluation"] = result.EvaluationSeconds,
            },
            ["calibration"] = new JsonObject
            {
                ["spec"] = r.Calibration, ["sequences"] = r.CalibrationSequences, ["length"] = r.CalibrationLength,
                ["tokens_per_pass"] = result.CalibrationTokens, ["description"] = result.CalibrationDescription,
                ["seeds"] = Numbers(r.CalibrationSeeds.Select(s => (double)s)),
                ["pass_seconds"] = Numbers(result.PassSeconds), ["naee_search_seconds"] = Numbers(result.NaeeSeconds),
                ["passes"] = new JsonArray(result.CalibrationData.Select(c => (JsonNode)c.DeepClone()).ToArray()),
            },
            ["selection"] = "uniform: floor(E * ratio) experts removed from every MoE layer",
            ["ratios"] = Numbers(r.Ratios),
            ["random_seeds"] = Numbers(r.RandomSeeds.Select(s => (double)s)),
            ["references"] = new JsonArray(result.References.Select(x => (JsonNode)new JsonObject
            {
                ["name"] = x.Name, ["dir"] = Path.GetFullPath(x.ModelDir), ["perplexity"] = x.Perplexity,
            }).ToArray()),
            ["rows"] = new JsonArray(result.Sorted().Select(x => (JsonNode)Row(x)).ToArray()),
            ["evaluations"] = result.Evaluations,
            ["measurements"] = result.Measurements,
            ["pruned_evaluation_seconds"] = result.PrunedEvaluationSeconds,
            ["total_seconds"] = result.TotalSeconds,
        };
    }

    public static JsonObject Row(StudyRow row)
    {
        var ratios = new JsonObject();
        foreach (var (ratio, list) in row.ByRatio)
            ratios[RatioKey(ratio)] = new JsonObject
            {
                ["mean"] = row.Mean(ratio),
                ["sd"] = row.Sd(ratio),
                ["seeds"] = new JsonArray(list.Select(m => (JsonNode)m.Seed).ToArray()),
                ["perplexities"] = new JsonArray(list.Select(m => (JsonNode)m.Perplexity).ToArray()),
                ["kept"] = new JsonArray(list.Select(m => (JsonNode)KeptJson(m.Kept)).ToArray()),
            };
        return new JsonObject { ["name"] = row.Name, ["group"] = row.Group, ["seed_kind"] = row.SeedKind, ["ratios"] = ratios };
    }

    public static string RatioKey(double ratio) => ratio.ToString("0.###", CultureInfo.InvariantCulture);

    private static JsonObject KeptJson(IReadOnlyDictionary<int, int[]> kept)
    {
        var o = new JsonObject();
        foreach (var (layer, experts) in kept.OrderBy(k => k.Key))
            o[layer.ToString(CultureInfo.InvariantCulture)] = new JsonArray(experts.Select(e => (JsonNode)e).ToArray());
        return o;
    }

    private static JsonArray Numbers(IEnumerable<double> values) => new(values.Select(v => (JsonNode)v).ToArray());
}
