using System.Text.Json.Nodes;
using MoePrune.Studies;

namespace MoePrune.Jobs.Strategies;

/// <summary>
/// How each round is evaluated: perplexity on the first <see cref="SequencesPerGenre"/> Brown validation sequences of
/// each genre (<see cref="StudyEvaluationSet"/>) or on a token file, KL(parent ‖ round model) on the same sequences,
/// and the <see cref="Tasks"/> of the evaluation harness (first <see cref="TaskLimit"/> documents, <see cref="Shots"/>-shot).
/// </summary>
public sealed record RoundEvaluationSpec
{
    public int SequencesPerGenre { get; init; } = 2;
    public string? TokensFile { get; init; }
    public int BatchSize { get; init; } = 8;
    public bool Kl { get; init; } = true;
    public IReadOnlyList<string> Tasks { get; init; } = [];
    public int? TaskLimit { get; init; }
    public int Shots { get; init; }

    public JsonObject ToJson() => new()
    {
        ["sequences_per_genre"] = TokensFile is null ? SequencesPerGenre : null,
        ["tokens_file"] = TokensFile is null ? null : Path.GetFullPath(TokensFile),
        ["batch_size"] = BatchSize, ["kl"] = Kl,
        ["tasks"] = new JsonArray(Tasks.Select(t => (JsonNode)t).ToArray()), ["task_limit"] = TaskLimit, ["shots"] = Shots,
    };

    public void Check(OptionNames names)
    {
        if (TokensFile is null && SequencesPerGenre < 1)
            throw new MoePruneException($"{names[OptionNames.EvalSequences]}: {SequencesPerGenre} must be at least 1");
        if (BatchSize < 1) throw new MoePruneException($"{names[OptionNames.BatchSize]}: {BatchSize} must be at least 1");
        if (TaskLimit is < 1) throw new MoePruneException($"task limit {TaskLimit} must be at least 1");
        if (Shots < 0) throw new MoePruneException($"shots {Shots} must be >= 0");
    }

    /// <summary>The perplexity sequences for the model in <paramref name="modelDir"/>.</summary>
    public StudyEvaluationSet Sequences(string modelDir) => StudyEvaluationSet.For(modelDir, SequencesPerGenre, TokensFile);
}
