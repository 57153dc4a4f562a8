using System.Text.Json.Nodes;
using MoePrune.Evaluation.LogLikelihood;
using MoePrune.Evaluation.Tasks;
using MoePrune.Models;
using MoePrune.Tokenization;

namespace MoePrune.Jobs.Strategies;

/// <summary>
/// The evaluation harness's tasks as a round evaluation: every task is read, its k-shot prompts drawn and tokenized
/// once (before any round), then each model is scored on the same prepared requests; the result is each task's
/// results.json entry (docs/EVALUATION.md).
/// </summary>
public static class RoundTasks
{
    /// <param name="tokenizerDir">The tokenizer of every round model (the original checkpoint's).</param>
    public static Func<MoeForCausalLM, JsonNode?> Create(string tokenizerDir, IReadOnlyList<string> tasks, int? limit, int shots, int batchSize)
    {
        var settings = new EvalSettings(shots, limit, batchSize);
        var encoder = new ContinuationEncoder(HfTokenizer.Load(tokenizerDir), settings.AddBos);
        var prepared = TaskCatalog.Load(tasks).Select(t => TaskRunner.Prepare(t, encoder, settings)).ToList();
        return model =>
        {
            var result = new JsonObject();
            foreach (var p in prepared)
                result[p.Task.Name] = TaskRunner.Run(model, p, encoder, settings.BatchSize, batchTokens: settings.BatchTokens).ToJson();
            return result;
        };
    }

    public static Func<MoeForCausalLM, JsonNode?> Create(string tokenizerDir, RoundEvaluationSpec spec) =>
        Create(tokenizerDir, spec.Tasks, spec.TaskLimit, spec.Shots, spec.BatchSize);
}
