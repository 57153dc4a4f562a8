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
/// Computes <see cref="KlResult"/>: both models read the same right-padded batches; the predicting positions'
/// hidden states go through each output projection a chunk at a time and a float32 log-softmax, so that no
/// (B, T, V) logits tensor is ever held.
/// </summary>
public static class KlDivergence
{
    public static KlResult Evaluate(MoeForCausalLM model, MoeForCausalLM reference, IReadOnlyList<int[]> sequences, int batchSize = 8,
                                    Action<int>? progress = null, int positionsPerChunk = 1024)
    {
        if (model.Config.VocabSize != reference.Config.VocabSize)
            throw new MoePruneException($"the reference model has {reference.Config.VocabSize} tokens in its vocabulary and the model {model.Config.VocabSize}; KL needs the same vocabulary");
        if (batchSize < 1) throw new MoePruneException($"--batch-size: {batchSize} must be at least 1");
        int vocab = model.Config.VocabSize;
        foreach (var s in sequences)
            foreach (int id in s)
                if (id < 0 || id >= vocab) throw new MoePruneException($"token id {id} is outside the vocabulary 0..{vocab - 1}");
        var usable = sequences.Where(s => s.Length >= 2).ToList();
        if (usable.Count == 0) throw new MoePruneException("no sequence has at least 2 tokens: nothing to predict");

        var kls = new List<double>();
        long agree = 0;
        double nll = 0, referenceNll = 0;
        int done = 0;
        using var inference = inference_mode();
        foreach (var chunk in usable.Chunk(batchSize))
        {
            using var scope = NewDisposeScope();
            using var batch = TokenBatch.Pad(chunk);
            long t = batch.InputIds.shape[1];
            var hidden = Hidden(model, batch);                                            // (B·T, H)
            var referenceHidden = Hidden(reference, batch);                               // (B·T, H)
            var positions = new List<long>();
            var targets = new List<long>();
            for (int b = 0; b < chunk.Length; b++)
                for (int p = 0; p + 1 < chunk[b].Length; p++)
                {
                    positions.Add(b * t + p);
                    targets.Add(chunk[b][p + 1]);
                }
            for (int start = 0; start < positions.Count; start += positionsPerChunk)
            {
                using var inner = NewDisposeScope();
                int n = Math.Min(positionsPerChunk, positions.Count - start);
                var index = tensor(positions.GetRange(start, n).ToArray());              // (N) int64
                var target = tensor(targets.GetRange(start, n).ToArray()).unsqueeze(1);  // (N, 1) int64
                var logQ = LogProbs(model, hidden, index);                                // (N, V) fp32
                var logP = LogProbs(reference, referenceHidden, index);                   // (N, V) fp32
                var kl = (logP.exp() * (logP - logQ)).sum(-1);                            // (N) fp32
                kls.AddRange(kl.to(ScalarType.Float64).data<double>().ToArray());
                agree += logQ.argmax(-1).eq(logP.argmax(-1)).sum().item<long>();
                nll -= logQ.gather(1, target).to(ScalarType.Float64).sum().item<double>();
                referenceNll -= logP.gather(1, target).to(ScalarType.Float64).sum().item<double>();
            }
            done += chunk.Length;
            progress?.Invoke(done);
        }
        long count = kls.Count;
        var sorted = kls.Order().ToArray();
        return new KlResult(count, kls.Sum() / count, Percentile(sorted, 0.99), agree / (double)count,
                            Math.Exp(nll / count), Math.Exp(referenceNll / count));
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

    static Tensor LogProbs(MoeForCausalLM model, Tensor hidden, Tensor index) =>
        nn.functional.linear(hidden.index_select(0, index), model.OutputWeight)           // (N, V)
          .to(ScalarType.Float32).log_softmax(-1);                                        // (N, V) fp32
}
