using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Evaluation.Kl;

/// <summary>
/// The quality gate of a pruned model against its parent, over every predicted position (each position that has
/// a next token): the mean and 99th percentile of KL(parent ‖ model) between the next-token distributions (nats),
/// the share of positions where both models' most likely token is the same, and both perplexities.
/// </summary>
public sealed record KlResult(long Positions, double Mean, double P99, double Top1Agreement, double Perplexity, double ReferencePerplexity);

/// <summary>
/// Computes <see cref="KlResult"/> with both models in memory: both read the same right-padded batches; the predicting
/// positions' hidden states go through each output projection a chunk at a time and a float32 log-softmax
/// (<see cref="KlAccumulator"/>), so that no (B, T, V) logits tensor is ever held.
/// </summary>
public static class KlDivergence
{
    public static KlResult Evaluate(MoeForCausalLM model, MoeForCausalLM reference, IReadOnlyList<int[]> sequences, int batchSize = 8,
                                    Action<int>? progress = null, int positionsPerChunk = 1024)
    {
        if (model.Config.VocabSize != reference.Config.VocabSize)
            throw new MoePruneException($"the reference model has {reference.Config.VocabSize} tokens in its vocabulary and the model {model.Config.VocabSize}; KL needs the same vocabulary");
        if (batchSize < 1) throw new MoePruneException($"--batch-size: {batchSize} must be at least 1");
        var usable = KlAccumulator.Usable(sequences, model.Config.VocabSize);
        var sum = new KlAccumulator(positionsPerChunk);
        int done = 0;
        using var inference = inference_mode();
        foreach (var chunk in usable.Chunk(batchSize))
        {
            using var scope = NewDisposeScope();
            using var batch = TokenBatch.Pad(chunk);
            sum.Add(chunk, batch.InputIds.shape[1], Hidden(model, batch), model.OutputWeight, Hidden(reference, batch), reference.OutputWeight);
            done += chunk.Length;
            progress?.Invoke(done);
        }
        return sum.Result();
    }

    /// <summary>numpy's default percentile: linear interpolation between the closest ranks of the sorted values.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double q)
    {
        if (sorted.Count == 0) return double.NaN;
        double rank = q * (sorted.Count - 1);
        int lo = (int)Math.Floor(rank), hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
    }

    static Tensor Hidden(MoeForCausalLM model, TokenBatch batch)
    {
        var hidden = model.Model.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask)).LastHiddenState; // (B, T, H)
        return hidden.reshape(-1, hidden.shape[2]);                                       // (B·T, H)
    }
}
