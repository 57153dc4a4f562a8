using MoePrune.Evaluation;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Generation;

/// <summary>Greedy decoding limits: new tokens per prompt, the ids that end a sequence, prompts per forward, and whether to keep a KV cache.</summary>
public sealed record GenerationOptions(int MaxNewTokens, IReadOnlyCollection<int>? EosTokenIds = null, int BatchSize = 8, bool UseCache = true);

/// <summary>
/// Greedy decoding by recomputation: every step runs the whole prompt + generated prefix again, the prompts of a
/// batch right-padded (so every token keeps its own position and no real token attends to padding), and takes the
/// argmax of the logits at each sequence's last real position. <see cref="GenerationOptions.UseCache"/> is accepted
/// and ignored: this version keeps no cache.
/// </summary>
public static class GreedyDecoder
{
    /// <summary>
    /// For each prompt (token ids, no padding), the greedily generated ids after it (prompt excluded; stops after an
    /// EOS token — not included — after MaxNewTokens, or when stopWhen(promptIndex, generatedSoFar) returns true, in
    /// which case the ids so far including the last one are returned).
    /// </summary>
    public static IReadOnlyList<int[]> Generate(MoeForCausalLM model, IReadOnlyList<int[]> prompts, GenerationOptions options,
                                                Func<int, IReadOnlyList<int>, bool>? stopWhen = null)
    {
        if (options.MaxNewTokens < 0) throw new MoePruneException($"max new tokens: {options.MaxNewTokens} must be at least 0");
        if (options.BatchSize < 1) throw new MoePruneException($"--batch-size: {options.BatchSize} must be at least 1");
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length == 0) throw new MoePruneException($"prompt {i} has no tokens");
            foreach (int id in prompts[i])
                if (id < 0 || id >= model.Config.VocabSize)
                    throw new MoePruneException($"prompt {i}: token id {id} is outside the vocabulary 0..{model.Config.VocabSize - 1}");
        }
        var eos = options.EosTokenIds ?? [];
        var generated = prompts.Select(_ => new List<int>()).ToArray();
        using var inference = inference_mode();
        foreach (var chunk in Enumerable.Range(0, prompts.Count).Chunk(options.BatchSize))
        {
            var active = chunk.ToList();
            for (int step = 0; step < options.MaxNewTokens && active.Count > 0; step++)
            {
                var next = NextTokens(model, active.Select(i => (int[])[.. prompts[i], .. generated[i]]).ToList());
                var still = new List<int>();
                for (int k = 0; k < active.Count; k++)
                {
                    int i = active[k];
                    if (eos.Contains(next[k])) continue;
                    generated[i].Add(next[k]);
                    if (stopWhen?.Invoke(i, generated[i]) == true) continue;
                    still.Add(i);
                }
                active = still;
            }
        }
        return generated.Select(g => g.ToArray()).ToList();
    }

    /// <summary>The argmax next token after each sequence (one right-padded forward).</summary>
    static int[] NextTokens(MoeForCausalLM model, IReadOnlyList<int[]> sequences)
    {
        using var scope = NewDisposeScope();
        using var batch = TokenBatch.Pad(sequences);
        long t = batch.InputIds.shape[1];
        var hidden = model.Model.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask)).LastHiddenState; // (B, T, H)
        var last = tensor(sequences.Select((s, b) => b * t + s.Length - 1).ToArray());          // (B) int64
        var h = hidden.reshape(-1, hidden.shape[2]).index_select(0, last);                      // (B, H)
        var logits = nn.functional.linear(h, model.OutputWeight);                               // (B, V)
        return logits.argmax(-1).data<long>().Select(x => (int)x).ToArray();                    // (B)
    }
}
