using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Evaluation;

/// <summary>Mean next-token NLL over the predicted tokens and its exponent.</summary>
public sealed record PerplexityResult(long Tokens, double MeanNll)
{
    public double Perplexity => Math.Exp(MeanNll);
}

/// <summary>
/// Perplexity of token sequences: batched, right-padded, padding excluded from the loss. Sequences are
/// batched in length order to waste little compute on padding; the result does not depend on batching.
/// </summary>
public static class Perplexity
{
    public static PerplexityResult Evaluate(MoeForCausalLM model, IReadOnlyList<int[]> sequences, int batchSize = 8)
    {
        if (batchSize < 1) throw new MoePruneException($"--batch-size: {batchSize} must be at least 1");
        foreach (var s in sequences)
            foreach (var id in s)
                if (id < 0 || id >= model.Config.VocabSize)
                    throw new MoePruneException($"token id {id} is outside the vocabulary 0..{model.Config.VocabSize - 1}");
        var usable = sequences.Where(s => s.Length >= 2).OrderBy(s => s.Length).ToList();
        if (usable.Count == 0) throw new MoePruneException("no sequence has at least 2 tokens: nothing to predict");

        double sum = 0;
        long count = 0;
        int done = 0;
        using var inference = inference_mode();
        foreach (var chunk in usable.Chunk(batchSize))
        {
            Progress.StepProgress.Report("perplexity", done, usable.Count, "sequences");
            done += chunk.Length;
            using var scope = NewDisposeScope();
            using var batch = TokenBatch.Pad(chunk);
            var logits = model.Logits(batch.InputIds, batch.AttentionMask);            // (B, T, V)
            var nll = CausalLMLoss.Compute(logits, batch.InputIds, batch.AttentionMask);
            sum += nll.Sum.to(ScalarType.Float64).item<double>();
            count += nll.Count;
        }
        Progress.StepProgress.Report("perplexity", done, usable.Count, "sequences");
        return new PerplexityResult(count, sum / count);
    }

    /// <summary>Reads a token-id file (<see cref="IO.TokenIdFile"/>), which must hold at least one sequence; ids checked against <paramref name="vocabSize"/> when given.</summary>
    public static IReadOnlyList<int[]> ReadTokenFile(string path, int? vocabSize = null)
    {
        var sequences = IO.TokenIdFile.Read(path, vocabSize);
        if (sequences.Count == 0) throw new MoePruneException($"{path}: no token sequences");
        return sequences;
    }
}
