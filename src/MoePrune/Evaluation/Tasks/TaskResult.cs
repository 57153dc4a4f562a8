using System.Text.Json.Nodes;
using MoePrune.Evaluation.Generation;
using MoePrune.Evaluation.LogLikelihood;

namespace MoePrune.Evaluation.Tasks;

/// <summary>
/// The metrics of one task and one sample line per document. Multiple choice: <see cref="Acc"/> and
/// <see cref="AccNorm"/> with standard errors; generative: <see cref="Accuracy"/> and <see cref="FormatRate"/> (the
/// share of generations an answer could be read from). <see cref="Truncated"/> counts documents whose prompt lost
/// tokens on the left to fit the model; <see cref="BoundaryMerged"/> multiple-choice requests whose context encoding is
/// not a prefix of context + continuation (<see cref="ContinuationRequest.Merged"/>); <see cref="TokensForwarded"/> the tokens the model read for scoring,
/// <see cref="TokensRequested"/> those the requests hold (context + continuation per choice).
/// </summary>
public sealed record TaskResult(string Name, TaskKind Kind, int N, int Shots, MeanWithError? Acc, MeanWithError? AccNorm,
                                MeanWithError? Accuracy, double? FormatRate, int Truncated, long TokensForwarded, long TokensRequested,
                                double Seconds, IReadOnlyList<JsonObject> Samples, int BoundaryMerged = 0)
{
    public static TaskResult MultipleChoice(PreparedTask prepared, IReadOnlyList<MultipleChoiceOutcome> outcomes, ScoredContinuations scored, double seconds)
    {
        string name = prepared.Task.Name;
        var samples = outcomes.Select(o => new JsonObject
        {
            ["task"] = name,
            ["id"] = o.Document.Id,
            ["loglikelihoods"] = new JsonArray(o.LogLikelihoods.Select(x => (JsonNode)x).ToArray()),
            ["pred"] = o.Prediction,
            ["pred_norm"] = o.NormalizedPrediction,
            ["gold"] = o.Document.Gold,
        }).ToList();
        return new TaskResult(name, TaskKind.MultipleChoice, outcomes.Count, prepared.Shots,
            MeanWithError.Of(outcomes.Select(o => o.Correct).ToList()), MeanWithError.Of(outcomes.Select(o => o.CorrectNormalized).ToList()),
            null, null, scored.Truncated, scored.TokensForwarded, scored.TokensRequested, seconds, samples,
            prepared.Requests.Count(r => r.Merged));
    }

    public static TaskResult Generate(PreparedTask prepared, IReadOnlyList<GenerativeOutcome> outcomes, int truncated, double seconds)
    {
        string name = prepared.Task.Name;
        var samples = outcomes.Select(o => new JsonObject
        {
            ["task"] = name,
            ["id"] = o.Document.Id,
            ["generation"] = o.Generation,
            ["extracted"] = o.Extracted,
            ["correct"] = o.Correct,
            ["format_ok"] = o.FormatOk,
        }).ToList();
        double formatRate = outcomes.Count == 0 ? double.NaN : outcomes.Count(o => o.FormatOk) / (double)outcomes.Count;
        return new TaskResult(name, TaskKind.Generate, outcomes.Count, prepared.Shots, null, null,
            MeanWithError.Of(outcomes.Select(o => o.Correct).ToList()), formatRate, truncated, 0, 0, seconds, samples);
    }

    /// <summary>The task's entry in results.json (only the keys that apply to its kind).</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["type"] = Kind == TaskKind.MultipleChoice ? "multiple_choice" : "generate",
            ["n"] = N,
            ["shots"] = Shots,
        };
        if (Acc is { } acc)
        {
            o["acc"] = acc.Mean;
            o["acc_stderr"] = acc.StandardError;
        }
        if (AccNorm is { } norm)
        {
            o["acc_norm"] = norm.Mean;
            o["acc_norm_stderr"] = norm.StandardError;
        }
        if (Accuracy is { } accuracy)
        {
            o["accuracy"] = accuracy.Mean;
            o["accuracy_stderr"] = accuracy.StandardError;
            o["format_rate"] = FormatRate;
        }
        if (Truncated > 0) o["truncated"] = Truncated;
        if (BoundaryMerged > 0) o["boundary_merged"] = BoundaryMerged;
        if (TokensForwarded > 0)
        {
            o["tokens_forwarded"] = TokensForwarded;
            o["tokens_requested"] = TokensRequested;
        }
        o["seconds"] = Math.Round(Seconds, 3);
        return o;
    }
}
