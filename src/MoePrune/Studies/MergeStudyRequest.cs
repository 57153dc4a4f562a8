using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Jobs;
using MoePrune.Merging;
using MoePrune.Merging.Merge;

namespace MoePrune.Studies;

/// <summary>
/// What <see cref="MergeStudy"/> compares on one model: every similarity × merge method, the M-SMoE and HC-SMoE presets
/// and the dropping baselines (frequency, min-EAN, NAEE), each at every merged/kept expert count of
/// <see cref="Groups"/>, per calibration seed; measured by perplexity and KL to the parent on the evaluation subset and
/// by the accuracy of <see cref="Tasks"/> (first <see cref="TaskLimit"/> documents each).
/// </summary>
public sealed record MergeStudyRequest
{
    public required string ModelDir { get; init; }
    /// <summary>Run folder: settings, the raw measurements (one JSON line each, appended; a rerun skips those present), results.</summary>
    public required string WorkDir { get; init; }
    /// <summary>Experts per layer after merging or dropping (e.g. 6 and 4 of 8).</summary>
    public IReadOnlyList<int> Groups { get; init; } = [6, 4];
    public IReadOnlyList<int> CalibrationSeeds { get; init; } = [0, 1, 2];
    public IReadOnlyList<SimilarityKind> Similarities { get; init; } =
        [SimilarityKind.Cka, SimilarityKind.Weights, SimilarityKind.Surrogate, SimilarityKind.Router, SimilarityKind.RouterLogits];
    public IReadOnlyList<MergeMethod> Merges { get; init; } = [MergeMethod.Uniform, MergeMethod.Frequency, MergeMethod.MaxFrequency, MergeMethod.Learned];
    public IReadOnlyList<string> Presets { get; init; } = ["m-smoe", "hc-smoe"];
    /// <summary>Dropping baselines (criteria, uniform per layer).</summary>
    public IReadOnlyList<string> Drops { get; init; } = ["frequency", "min-ean", "naee"];
    public IReadOnlyList<string> Tasks { get; init; } = ["def2word", "hypernym"];
    public int TaskLimit { get; init; } = 300;
    /// <summary>First N validation sequences of 256 tokens per Brown genre (<see cref="StudyEvaluationSet"/>).</summary>
    public int EvalSequencesPerGenre { get; init; } = 4;
    /// <summary>Evaluate on this token-id file instead of the Brown validation subset.</summary>
    public string? EvalTokensFile { get; init; }
    public string Calibration { get; init; } = CalibrationSpec.Default;
    public int CalibrationSequences { get; init; } = CalibrationPacker.DefaultSequences;
    public int CalibrationLength { get; init; } = CalibrationPacker.DefaultLength;
    public int BatchSize { get; init; } = CalibrationPass.DefaultBatchSize;
    /// <summary>Input-sample rows per layer: the data-centric similarities, the learned merge and NAEE read the same sample.</summary>
    public int SimilarityTokens { get; init; } = MergeSpec.DefaultSimilarityTokens;
    public int LearnedSteps { get; init; } = new LayerMergeOptions().LearnedSteps;
    /// <summary>
    /// Measure nothing: build the results from the measurements already in <see cref="WorkDir"/> (a study still running or
    /// stopped gives the rows measured so far). Not a setting of the measurements, so not in <see cref="ToJson"/>.
    /// </summary>
    public bool ReportOnly { get; init; }

    public void Check()
    {
        if (Groups.Count == 0 || Groups.Any(g => g < 1)) throw new MoePruneException("merge study: give at least one positive expert count");
        if (CalibrationSeeds.Count == 0) throw new MoePruneException("merge study: give at least one calibration seed");
        if (TaskLimit < 1) throw new MoePruneException($"merge study: task limit {TaskLimit} must be at least 1");
        if (EvalSequencesPerGenre < 1) throw new MoePruneException($"merge study: {EvalSequencesPerGenre} evaluation sequences per genre must be at least 1");
        foreach (var p in Presets) MergePresets.Parse(p, "merge study presets");
        foreach (var d in Drops) CriterionSpec.Parse(d, "merge study drops");
    }

    /// <summary>The settings that decide the measurements; a rerun in the same folder must have the same.</summary>
    public JsonObject ToJson() => new()
    {
        ["model_dir"] = Path.GetFullPath(ModelDir),
        ["eval_sequences_per_genre"] = EvalSequencesPerGenre,
        ["eval_tokens_file"] = EvalTokensFile is null ? null : Path.GetFullPath(EvalTokensFile),
        ["tasks"] = new JsonArray(Tasks.Select(t => (JsonNode)t).ToArray()),
        ["task_limit"] = TaskLimit,
        ["calibration"] = Calibration,
        ["calibration_sequences"] = CalibrationSequences,
        ["calibration_length"] = CalibrationLength,
        ["batch_size"] = BatchSize,
        ["similarity_tokens"] = SimilarityTokens,
        ["learned_steps"] = LearnedSteps,
    };
}
