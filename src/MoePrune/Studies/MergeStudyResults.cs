using System.Text.Json.Nodes;

namespace MoePrune.Studies;

/// <summary>
/// <c>results.json</c> of the merge study: the settings, the evaluation subset, the parent's metrics, and per
/// (variant, expert count) a row with the mean and sample sd over calibration seeds of perplexity, KL, top-1 agreement
/// and each task's accuracy (plus the mean standard error of the accuracy within one evaluation: the evaluation
/// noise), the learned merges' held-out reconstruction errors, and every raw measurement.
/// </summary>
public static class MergeStudyResults
{
    public static JsonObject Build(MergeStudyRequest request, IReadOnlyList<JsonObject> records, StudyEvaluationSet evaluation,
        IReadOnlyList<(string Name, int Documents)> tasks, JsonObject? settings = null)
    {
        var parent = records.First(r => (string)r["kind"]! == MergeStudy.ParentName);
        var wanted = MergeStudyVariant.All(request);
        var rows = new JsonArray();
        foreach (var v in wanted)
        {
            var keys = request.CalibrationSeeds.Select(v.Key).Distinct().ToHashSet();
            var measured = records.Where(r => keys.Contains((string)r["key"]!)).ToList();
            if (measured.Count == 0) continue;
            var row = new JsonObject
            {
                ["variant"] = v.Name, ["kind"] = v.Kind, ["groups"] = v.Groups, ["data_free"] = !v.ReadsData,
                ["seeds"] = new JsonArray(measured.Select(r => r["seed"]?.DeepClone()).ToArray()),
                ["perplexity"] = Stat(measured, m => (double)m["perplexity"]!),
                ["kl_mean"] = Stat(measured, m => (double)m["kl_mean"]!),
                ["kl_p99"] = Stat(measured, m => (double)m["kl_p99"]!),
                ["top1_agreement"] = Stat(measured, m => (double)m["top1_agreement"]!),
                ["round_seconds"] = measured.Average(r => (double)r["round_seconds"]!),
            };
            var taskRows = new JsonObject();
            foreach (var (name, _) in tasks)
                taskRows[name] = new JsonObject
                {
                    ["acc"] = Stat(measured, m => (double)m["tasks"]![name]!["acc"]!),
                    ["acc_stderr"] = measured.Average(r => (double?)r["metrics"]!["tasks"]![name]!["acc_stderr"] ?? double.NaN) is var se && double.IsFinite(se) ? se : null,
                    ["acc_norm"] = Stat(measured, m => (double)m["tasks"]![name]!["acc_norm"]!),
                };
            row["tasks"] = taskRows;
            if (v.Learned)
            {
                var errors = measured.SelectMany(r => r["learned_held_out_error"]!.AsObject().Select(kv => kv.Value)).Where(e => e is not null).ToList();
                row["learned_held_out_error"] = new JsonObject
                {
                    ["uniform"] = errors.Average(e => (double)e!["uniform"]!),
                    ["learned"] = errors.Average(e => (double)e!["learned"]!),
                };
            }
            rows.Add(row);
        }
        return new JsonObject
        {
            ["settings"] = settings?.DeepClone() ?? request.ToJson(),
            ["groups"] = new JsonArray(request.Groups.Select(g => (JsonNode)g).ToArray()),
            ["calibration_seeds"] = new JsonArray(request.CalibrationSeeds.Select(s => (JsonNode)s).ToArray()),
            ["evaluation"] = new JsonObject { ["description"] = evaluation.Description, ["predicted_tokens"] = evaluation.PredictedTokens },
            ["tasks"] = new JsonArray(tasks.Select(t => (JsonNode)new JsonObject { ["name"] = t.Name, ["documents"] = t.Documents }).ToArray()),
            ["parent"] = parent["metrics"]!.DeepClone(),
            ["progress"] = new JsonObject
            {
                ["measured"] = wanted.Sum(v => request.CalibrationSeeds.Select(v.Key).Distinct().Count(k => records.Any(r => (string)r["key"]! == k))),
                ["planned"] = wanted.Sum(v => request.CalibrationSeeds.Select(v.Key).Distinct().Count()),
            },
            ["rows"] = rows,
            ["measurements"] = new JsonArray(records.Select(r => (JsonNode)r.DeepClone()).ToArray()),
        };
    }

    /// <summary><c>{"mean", "sd", "n"}</c> of a metric over measurements (sd: sample sd, 0 for one value).</summary>
    private static JsonObject Stat(IReadOnlyList<JsonObject> measured, Func<JsonNode, double> metric)
    {
        var values = measured.Select(r => metric(r["metrics"]!)).ToArray();
        double mean = values.Average();
        double sd = values.Length < 2 ? 0 : Math.Sqrt(values.Sum(x => (x - mean) * (x - mean)) / (values.Length - 1));
        return new JsonObject { ["mean"] = mean, ["sd"] = sd, ["n"] = values.Length };
    }
}
