namespace MoePrune.Studies;

/// <summary>A reference perplexity (unpruned model, dense baseline) on the study's evaluation subset.</summary>
public sealed record StudyReference(string Name, string ModelDir, double Perplexity);

/// <summary>Everything a one-shot study measured (rendered by <c>Reports.OneShotJson</c> and <c>Reports.OneShotMarkdown</c>).</summary>
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
    /// <summary>Each pass's calibration data (<c>CalibrationSet.ToJson</c>: per-source and per-genre tokens and documents), in seed order.</summary>
    public List<System.Text.Json.Nodes.JsonObject> CalibrationData { get; } = [];
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
}
