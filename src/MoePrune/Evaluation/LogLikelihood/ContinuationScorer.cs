using MoePrune.Evaluation.Tasks;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Evaluation.LogLikelihood;

/// <summary>Σ log p of a continuation's tokens (natural log) and whether each of them is the model's argmax.</summary>
public readonly record struct ContinuationScore(double LogLikelihood, bool IsGreedy);

/// <summary>
/// The scores in request order, the tokens run through the model, the rows they formed, how many requests lost
/// context tokens to the length limit, and the tokens the requests hold (context + continuation each, as if every
/// request had its own forward).
/// </summary>
public sealed record ScoredContinuations(IReadOnlyList<ContinuationScore> Scores, long TokensForwarded, int Rows, int Truncated, long TokensRequested);

/// <summary>
/// Scores many (context, continuation) requests with few forwards of the model in memory, laid out and scored by
/// <see cref="ContinuationPlan"/>: the model reads context + continuation without its last token, cut on the left to
/// at most <c>maxLength</c> tokens (as lm-evaluation-harness does). Requests with the same context share one row when
/// one's input is a prefix of another's (all one-token continuations of a context, e.g. answer letters, are read from
/// one forward). Rows are sorted by length and right-padded into batches of <c>batchSize</c> rows, or more short rows
/// up to <c>batchTokens</c> padded tokens (<see cref="RowBatches"/>); only the positions that predict continuation
/// tokens go through the output projection and a float32 log-softmax.
/// </summary>
public static class ContinuationScorer
{
    public static ScoredContinuations Score(MoeForCausalLM model, IReadOnlyList<ContinuationRequest> requests, int batchSize,
                                            int maxLength, Action<int>? progress = null, int batchTokens = 0)
    {
        var plan = ContinuationPlan.Create(requests, batchSize, maxLength, model.Config.VocabSize, batchTokens);
        using var inference = inference_mode();
        for (int i = 0; i < plan.Batches.Count; i++)
        {
            using var scope = NewDisposeScope();
            using var batch = TokenBatch.Pad(plan.BatchRows(i));
            var hidden = model.Model.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask)).LastHiddenState; // (B, T, H)
            plan.ScoreBatch(i, hidden, model.OutputWeight);
            progress?.Invoke(plan.Done);
        }
        return plan.Result();
    }
}
