using System.Globalization;
using System.Text.Json.Nodes;

namespace MoePrune.Reports;

/// <summary>A reference perplexity (unpruned model, dense baseline) on the study's evaluation subset.</summary>
public sealed record StudyReference(string Name, string ModelDir, double Perplexity);

/// <summary>Everything a one-shot study measured; <see cref="ToJson"/> is results.json.</summary>
public sealed class OneShotStudyResult
{
    public required OneShotStudyRequest Request { get; init; }
    public required string ModelSummary { get; init; }
    public required StudyEvaluationSet Evaluation { get; init; }
    public required long EvaluationTokens { get; init; }
    public List<StudyReference> References { get; } = [];
    public List<StudyRow> Rows { get; } = [];
    /// <summary>Calibration tokens of one pass.</summary>
    public long CalibrationTokens { get; set; }
    public string CalibrationDescription { get; set; } = "";
    /// <summary>Seconds of each calibration pass (forward + backward, all criteria), in seed order.</summary>
    public List<double> PassSeconds { get; } = [];
    /// <summary>Seconds of NAEE's subset search per pass and ratio.</summary>
    public List<double> NaeeSeconds { get; } = [];
    /// <summary>Seconds of one evaluation of the unpruned model.</summary>
    public double EvaluationSeconds { get; set; }
    /// <summary>Pruned models built and evaluated (identical selections are evaluated once).</summary>
    public int Evaluations { get; set; }
    public int Measurements { get; set; }
    /// <summary>Seconds spent building and evaluating the pruned models.</summary>
    public double PrunedEvaluationSeconds { get; set; }
    public double TotalSeconds { get; set; }
    public DateTime StartedUtc { get; init; } = DateTime.UtcNow;

    public StudyRow Row(string name) => Rows.FirstOrDefault(r => r.Name == name)
        ?? throw new MoePruneException($"study: no row named '{name}'");

    /// <summary>Rows in ascending mean perplexity at the first ratio (ties: name).</summary>
    public IEnumerable<StudyRow> Sorted() => Rows.OrderBy(r => r.Mean(Request.Ratios[0])).ThenBy(r => r.Name, StringComparer.Ordinal);

    public JsonObject ToJson()
    {
        var r = Request;
        return new JsonObject
        {
            ["study"] = "one-shot",
            ["started_utc"] = StartedUtc.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["model"] = new JsonObject { ["dir"] = Path.GetFullPath(r.ModelDir), ["summary"] = ModelSummary },
            ["evaluation"] = new JsonObject
            {
                ["description"] = Evaluation.Description, ["sequences"] = Evaluation.Sequences.Count,
                ["tokens"] = EvaluationTokens, ["seconds_per_evaluation"] = EvaluationSeconds,
            },
            ["calibration"] = new JsonObject
            {
                ["spec"] = r.Calibration, ["sequences"] = r.CalibrationSequences, ["length"] = r.CalibrationLength,
                ["tokens_per_pass"] = CalibrationTokens, ["description"] = CalibrationDescription,
                ["seeds"] = Numbers(r.CalibrationSeeds.Select(s => (double)s)),
                ["pass_seconds"] = Numbers(PassSeconds), ["naee_search_seconds"] = Numbers(NaeeSeconds),
            },
            ["selection"] = "uniform: floor(E * ratio) experts removed from every MoE layer",
            ["ratios"] = Numbers(r.Ratios),
            ["random_seeds"] = Numbers(r.RandomSeeds.Select(s => (double)s)),
            ["references"] = new JsonArray(References.Select(x => (JsonNode)new JsonObject
            {
                ["name"] = x.Name, ["dir"] = Path.GetFullPath(x.ModelDir), ["perplexity"] = x.Perplexity,
            }).ToArray()),
            ["rows"] = new JsonArray(Sorted().Select(x => (JsonNode)x.ToJson()).ToArray()),
            ["evaluations"] = Evaluations,
            ["measurements"] = Measurements,
            ["pruned_evaluation_seconds"] = PrunedEvaluationSeconds,
            ["total_seconds"] = TotalSeconds,
        };
    }

    private static JsonArray Numbers(IEnumerable<double> values) => new(values.Select(v => (JsonNode)v).ToArray());
}
