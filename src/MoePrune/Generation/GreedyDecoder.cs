using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Generation;

/// <summary>
/// Options of <see cref="GreedyDecoder.Generate"/>: at most <paramref name="MaxNewTokens"/> new tokens per prompt;
/// generation of a prompt ends at any of <paramref name="EosTokenIds"/> (not returned); prompts run
/// <paramref name="BatchSize"/> at a time; <paramref name="UseCache"/> false recomputes the whole prefix every
/// step (the reference the KV cache is tested against).
/// </summary>
public sealed record GenerationOptions(int MaxNewTokens, IReadOnlyCollection<int>? EosTokenIds = null, int BatchSize = 8, bool UseCache = true);

/// <summary>
/// Greedy decoding (argmax of the next-token logits, first index on ties) of a batch of prompts, left-padded
/// with positions counted from each row's first real token (transformers' <c>generate</c> with
/// <c>do_sample=False</c>). With the cache, the prompt runs once and every later step feeds one token per row.
/// Runs in the model's dtype without autograd; deterministic.
/// </summary>
public static class GreedyDecoder
{
    /// <summary>
    /// For each prompt (token ids, no padding), the greedily generated ids after it (prompt excluded). A prompt's
    /// generation stops after an EOS token (not included), after <see cref="GenerationOptions.MaxNewTokens"/>, or
    /// when <paramref name="stopWhen"/>(promptIndex, generatedSoFar) returns true (the ids so far, including the
    /// last one, are returned). Finished rows keep being fed until their whole batch is done; their outputs are dropped.
    /// </summary>
    public static IReadOnlyList<int[]> Generate(MoeForCausalLM model, IReadOnlyList<int[]> prompts, GenerationOptions options,
                                                Func<int, IReadOnlyList<int>, bool>? stopWhen = null)
    {
        Validate(model, prompts, options);
        var results = new int[prompts.Count][];
        for (int start = 0; start < prompts.Count; start += options.BatchSize)
        {
            int count = Math.Min(options.BatchSize, prompts.Count - start);
            var batch = GenerateBatch(model, prompts, start, count, options, stopWhen);
            for (int i = 0; i < count; i++) results[start + i] = batch[i];
        }
        return results;
    }

    private static int[][] GenerateBatch(MoeForCausalLM model, IReadOnlyList<int[]> prompts, int start, int count,
                                         GenerationOptions options, Func<int, IReadOnlyList<int>, bool>? stopWhen)
    {
        var generated = Enumerable.Range(0, count).Select(_ => new List<int>()).ToArray();
        if (options.MaxNewTokens == 0) return generated.Select(g => g.ToArray()).ToArray();
        var eos = options.EosTokenIds is null ? [] : new HashSet<int>(options.EosTokenIds);
        var sequences = new LeftPaddedBatch(Enumerable.Range(start, count).Select(i => prompts[i]).ToArray());
        var done = new bool[count];
        using var noGrad = no_grad();
        using var cache = options.UseCache ? KvCache.For(model) : null;
        for (int step = 0; !done.All(d => d); step++)
        {
            var next = NextTokens(model, sequences, cache, fedSoFar: step == 0 ? 0 : sequences.Length - 1);
            for (int i = 0; i < count; i++)
            {
                if (done[i]) continue;
                int token = next[i];
                if (eos.Contains(token)) { done[i] = true; continue; }
                generated[i].Add(token);
                bool stop = stopWhen?.Invoke(start + i, generated[i]) ?? false;
                done[i] = stop || generated[i].Count >= options.MaxNewTokens;
            }
            if (done.All(d => d)) break;
            sequences.Append(Enumerable.Range(0, count).Select(i => done[i] ? 0 : next[i]).ToArray());
        }
        return generated.Select(g => g.ToArray()).ToArray();
    }

    /// <summary>
    /// The argmax next token of every row: with a cache, a forward of the slots not fed yet
    /// (<paramref name="fedSoFar"/> onwards); without one, a forward of the whole sequence.
    /// </summary>
    private static int[] NextTokens(MoeForCausalLM model, LeftPaddedBatch sequences, KvCache? cache, long fedSoFar)
    {
        using var scope = NewDisposeScope();
        var (ids, mask) = sequences.Tensors();                                    // (B, S), (B, S)
        var positions = PositionEmbeddings.PositionIdsFromMask(mask);             // (B, S)
        long s = ids.shape[1], first = cache is null ? 0 : fedSoFar;
        var input = new CausalLMInput(ids.narrow(1, first, s - first), mask,     // (B, T)
                                      PositionIds: positions.narrow(1, first, s - first), Cache: cache);
        var logits = model.forward(input).Logits;                                 // (B, T, V)
        var last = logits.select(1, logits.shape[1] - 1);                         // (B, V)
        return last.argmax(-1).data<long>().Select(v => (int)v).ToArray();      // (B)
    }

    private static void Validate(MoeForCausalLM model, IReadOnlyList<int[]> prompts, GenerationOptions options)
    {
        if (options.MaxNewTokens < 0) throw new MoePruneException($"generation: max new tokens is {options.MaxNewTokens}, must be at least 0");
        if (options.BatchSize < 1) throw new MoePruneException($"generation: batch size is {options.BatchSize}, must be at least 1");
        int vocab = model.Config.VocabSize;
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length == 0) throw new MoePruneException($"generation: prompt {i} is empty");
            foreach (int id in prompts[i])
                if (id < 0 || id >= vocab)
                    throw new MoePruneException($"generation: prompt {i} has token id {id} outside the vocabulary 0..{vocab - 1}");
        }
    }
}
