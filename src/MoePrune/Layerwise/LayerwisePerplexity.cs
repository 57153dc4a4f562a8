using MoePrune.Evaluation;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Layerwise;

/// <summary>
/// Perplexity layer by layer over fixed groups of sequences (one group, or Brown's genres): each group batched as
/// <see cref="Perplexity.Evaluate"/> batches it (length order, right-padded), every batch through the layers, then the
/// final norm, the output projection and <see cref="CausalLMLoss"/> per batch, summed in the same order — the same
/// numbers as the in-memory evaluation.
/// </summary>
public static class LayerwisePerplexity
{
    /// <param name="keep">Per group, optionally, the experts each MoE layer may route to (layer → keep flags): the group is
    /// evaluated on the model with the others removed (virtual pruning, <see cref="SparseMoeBlock.ExpertMask"/>), in the same run.</param>
    /// <returns>Per group its result, in the groups' order, and the run's hidden-state bytes and whether they were spilled.</returns>
    public static (List<PerplexityResult> Results, long HiddenBytes, bool Spilled) Evaluate(LayerwiseCheckpoint checkpoint,
        IReadOnlyList<IReadOnlyList<int[]>> groups, int batchSize = 8, long hiddenMemoryBytes = long.MaxValue, string? spillDir = null,
        Action<LayerwiseProgress>? progress = null, IReadOnlyList<IReadOnlyDictionary<int, bool[]>?>? keep = null)
    {
        if (batchSize < 1) throw new MoePruneException($"--batch-size: {batchSize} must be at least 1");
        int vocab = checkpoint.Config.VocabSize;
        var batches = new List<LayerBatch>();
        var groupOf = new List<int>();
        for (int g = 0; g < groups.Count; g++)
        {
            foreach (var s in groups[g])
                foreach (var id in s)
                    if (id < 0 || id >= vocab)
                        throw new MoePruneException($"token id {id} is outside the vocabulary 0..{vocab - 1}");
            var usable = groups[g].Where(s => s.Length >= 2).OrderBy(s => s.Length).ToList();
            if (usable.Count == 0) throw new MoePruneException("no sequence has at least 2 tokens: nothing to predict");
            foreach (var chunk in usable.Chunk(batchSize))
            {
                batches.Add(LayerBatch.Padded(chunk, source: $"group {g}"));
                groupOf.Add(g);
            }
        }
        using var masks = new ExpertMasks(keep);
        var sums = new double[groups.Count];
        var counts = new long[groups.Count];
        var hooks = new LayerwiseHooks
        {
            BeforeBatch = keep is null ? null : (batch, layer) =>
            {
                if (layer.Moe is { } moe) moe.ExpertMask = masks.For(int.Parse(batch.Source!["group ".Length..]), moe.LayerIndex);
            },
            Head = (i, batch, logits) =>
            {
                using var ids = batch.IdsTensor();                                                   // (B, T)
                using var mask = tensor(batch.AttentionMask!, [batch.Rows, batch.Length]);           // (B, T)
                var nll = CausalLMLoss.Compute(logits, ids, mask);
                using (nll.Sum) sums[groupOf[i]] += nll.Sum.to(ScalarType.Float64).item<double>();
                counts[groupOf[i]] += nll.Count;
            },
        };
        var (bytes, spilled) = LayerwiseRunner.Run(checkpoint, batches, hooks, hiddenMemoryBytes, spillDir, progress);
        return (Enumerable.Range(0, groups.Count).Select(g => new PerplexityResult(counts[g], sums[g] / counts[g])).ToList(), bytes, spilled);
    }

    /// <summary>The (E) bool keep masks of each group and layer, made once and disposed with the run.</summary>
    private sealed class ExpertMasks(IReadOnlyList<IReadOnlyDictionary<int, bool[]>?>? keep) : IDisposable
    {
        private readonly Dictionary<(int, int), Tensor> _made = [];

        public Tensor? For(int group, int layer)
        {
            if (keep?[group] is not { } layers || !layers.TryGetValue(layer, out var flags)) return null;
            if (!_made.TryGetValue((group, layer), out var mask))
                _made[(group, layer)] = mask = tensor(flags).DetachFromDisposeScope();                   // (E) bool
            return mask;
        }

        public void Dispose()
        {
            foreach (var m in _made.Values) m.Dispose();
        }
    }
}
