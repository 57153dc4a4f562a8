using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Evaluation.Generation;
using MoePrune.Evaluation.LogLikelihood;
using MoePrune.Models;

namespace MoePrune.Evaluation.Tasks;

/// <summary>
/// How tasks are run: demonstrations per prompt, documents per task (null: all), rows per forward (at least), padded
/// tokens a forward may hold when its rows are short (<see cref="RowBatches"/>), a BOS token in front, the k-shot seed.
/// </summary>
public sealed record EvalSettings(int Shots = 0, int? Limit = null, int BatchSize = 8, bool AddBos = false, long Seed = FewShot.DefaultSeed,
                                  int BatchTokens = EvalSettings.DefaultBatchTokens)
{
    public const int DefaultBatchTokens = 4096;

    public JsonObject ToJson() => new()
    {
        ["shots"] = Shots, ["limit"] = Limit, ["batch_size"] = BatchSize, ["batch_tokens"] = BatchTokens, ["add_bos"] = AddBos, ["seed"] = Seed,
    };
}

/// <summary>A task ready to run: the scored documents, their prompts, and their requests (multiple choice) or prompt ids (generative).</summary>
public sealed record PreparedTask(EvalTask Task, int Shots, IReadOnlyList<TaskDocument> Documents, IReadOnlyList<string> Prompts,
                                  IReadOnlyList<ContinuationRequest> Requests, IReadOnlyList<int> FirstRequest, IReadOnlyList<int[]> PromptIds)
{
    /// <summary>Progress units: requests for multiple choice, documents for generation.</summary>
    public int Work => Task.Kind == TaskKind.MultipleChoice ? Requests.Count : Documents.Count;
}

/// <summary>
/// Runs tasks in two steps: <see cref="Prepare"/> checks everything that can be wrong with the input (k-shot
/// availability, tokenization) before a model is loaded; <see cref="Run"/> scores and computes the metrics.
/// </summary>
public static class TaskRunner
{
    public static PreparedTask Prepare(EvalTask task, ContinuationEncoder encoder, EvalSettings settings)
    {
        if (settings.Limit is < 1) throw new MoePruneException($"--limit: {settings.Limit} must be at least 1");
        FewShot.Validate(task, settings.Shots);
        var documents = task.Test.Take(settings.Limit ?? int.MaxValue).ToList();
        var prompts = documents.Select(d => FewShot.Prompt(d, FewShot.Demonstrations(task, d, settings.Shots, settings.Seed))).ToList();
        var requests = new List<ContinuationRequest>();
        var first = new List<int>();
        var promptIds = new List<int[]>();
        for (int i = 0; i < documents.Count; i++)
        {
            if (documents[i] is MultipleChoiceDocument mc)
            {
                first.Add(requests.Count);
                requests.AddRange(MultipleChoiceScoring.Requests(encoder, mc, prompts[i]));
            }
            else promptIds.Add(encoder.EncodePrompt(prompts[i]));
        }
        return new PreparedTask(task, settings.Shots, documents, prompts, requests, first, promptIds);
    }

    public static TaskResult Run(MoeForCausalLM model, PreparedTask prepared, ContinuationEncoder encoder, int batchSize, Action<int>? progress = null,
                                 int batchTokens = 0)
    {
        var clock = Stopwatch.StartNew();
        int maxLength = MaxLength(model);
        if (prepared.Task.Kind == TaskKind.MultipleChoice)
        {
            var scored = ContinuationScorer.Score(model, prepared.Requests, batchSize, maxLength, progress, batchTokens);
            return MultipleChoiceResult(prepared, scored, clock.Elapsed.TotalSeconds);
        }
        var items = prepared.Documents.Select((d, i) => ((GenerativeDocument)d, prepared.PromptIds[i])).ToList();
        var generated = GenerativeScoring.Run(model, encoder.Tokenizer, items, batchSize, maxLength, progress, batchTokens);
        int truncated = items.Count(x => x.Item2.Length > Math.Max(1, maxLength - x.Item1.MaxNewTokens));
        return TaskResult.Generate(prepared, generated, truncated, clock.Elapsed.TotalSeconds);
    }

    /// <summary>A multiple-choice task's result from its scored requests (in memory or layer by layer).</summary>
    public static TaskResult MultipleChoiceResult(PreparedTask prepared, ScoredContinuations scored, double seconds)
    {
        var outcomes = new List<MultipleChoiceOutcome>();
        for (int i = 0; i < prepared.Documents.Count; i++)
        {
            var doc = (MultipleChoiceDocument)prepared.Documents[i];
            var lls = Enumerable.Range(prepared.FirstRequest[i], doc.Choices.Count).Select(r => scored.Scores[r].LogLikelihood).ToArray();
            outcomes.Add(MultipleChoiceScoring.Outcome(doc, lls));
        }
        return TaskResult.MultipleChoice(prepared, outcomes, scored, seconds);
    }

    /// <summary>The model's <c>max_position_embeddings</c> (2048 when the config has none, as lm-evaluation-harness assumes).</summary>
    public static int MaxLength(MoeForCausalLM model) => MaxLength(model.Config);

    /// <inheritdoc cref="MaxLength(MoeForCausalLM)"/>
    public static int MaxLength(MoeConfig config) =>
        config.Source["max_position_embeddings"] is JsonValue v && v.TryGetValue<int>(out int n) && n > 0 ? n : 2048;
}
