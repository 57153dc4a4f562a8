using System.Diagnostics;
using MoePrune.Evaluation.Kl;
using MoePrune.Evaluation.LogLikelihood;
using MoePrune.Evaluation.Tasks;
using static TorchSharp.torch;

namespace MoePrune.Layerwise;

/// <summary>What a layer-by-layer evaluation gives: each task's result, the KL gate's, the hidden-state bytes (the larger run's plus the model's kept KL states) and whether any went to a file.</summary>
public sealed record LayerwiseEvaluationResult(IReadOnlyList<TaskResult> Tasks, KlResult? Kl, long HiddenBytes, bool Spilled);

/// <summary>
/// The evaluation harness layer by layer: multiple-choice tasks and the KL gate over the batches the in-memory
/// evaluation forms, with the same results. One run of the model takes every task's batches (laid out by
/// <see cref="ContinuationPlan"/>; at the head only the predicting positions go through the output projection) and the
/// KL sequences' batches, whose final (normed) hidden states are kept (<see cref="HiddenStates"/>: in memory or in a
/// temporary file); then one run of the reference, at whose head each batch meets the model's kept states chunk of
/// positions by chunk (<see cref="KlAccumulator"/>). Generative tasks are refused: every generated token needs every
/// layer.
/// </summary>
public static class LayerwiseEvaluation
{
    /// <summary>Throws, naming them, when any task is generative (checked before any model work).</summary>
    public static void RefuseGenerative(IEnumerable<PreparedTask> tasks)
    {
        var generative = tasks.Where(t => t.Task.Kind == TaskKind.Generate).Select(t => t.Task.Name).ToList();
        if (generative.Count > 0)
            throw new MoePruneException($"{(generative.Count == 1 ? "task" : "tasks")} {string.Join(", ", generative)}: generative tasks cannot run layer by layer "
                                        + "(every generated token needs every layer); run them in memory or leave them out");
    }

    /// <param name="reference">The KL gate's parent checkpoint (null: no gate); <paramref name="klSequences"/> its input.</param>
    /// <param name="hiddenMemoryBytes">Most bytes of hidden states held in memory (the model's kept KL states and a run's together).</param>
    public static LayerwiseEvaluationResult Run(LayerwiseCheckpoint model, IReadOnlyList<PreparedTask> tasks, LayerwiseCheckpoint? reference = null,
        IReadOnlyList<int[]>? klSequences = null, int batchSize = 8, int batchTokens = 0, long hiddenMemoryBytes = long.MaxValue,
        string? spillDir = null, Action<LayerwiseProgress>? progress = null, int positionsPerChunk = 1024)
    {
        RefuseGenerative(tasks);
        if (batchSize < 1) throw new MoePruneException($"--batch-size: {batchSize} must be at least 1");
        int vocab = model.Config.VocabSize;
        if (reference is not null && reference.Config.VocabSize != vocab)
            throw new MoePruneException($"the reference model has {reference.Config.VocabSize} tokens in its vocabulary and the model {vocab}; KL needs the same vocabulary");
        var clock = Stopwatch.StartNew();
        using var inference = inference_mode();                                               // as the in-memory evaluation runs
        int maxLength = TaskRunner.MaxLength(model.Config);
        var plans = tasks.Select(t => ContinuationPlan.Create(t.Requests, batchSize, maxLength, vocab, batchTokens)).ToList();
        var klBatches = reference is null ? [] : KlAccumulator.Usable(klSequences ?? [], vocab).Chunk(batchSize).ToList();

        var batches = new List<LayerBatch>();
        var owners = new List<(int Task, int Batch)>();                                       // task −1: a KL batch
        for (int t = 0; t < plans.Count; t++)
            for (int b = 0; b < plans[t].Batches.Count; b++)
            {
                batches.Add(LayerBatch.Padded(plans[t].BatchRows(b)));
                owners.Add((t, b));
            }
        for (int k = 0; k < klBatches.Count; k++)
        {
            batches.Add(LayerBatch.Padded(klBatches[k]));
            owners.Add((-1, k));
        }
        long runMemory = klBatches.Count == 0 ? hiddenMemoryBytes : hiddenMemoryBytes / 2;
        using var kept = new HiddenStates(klBatches.Select(c => new long[] { c.Length, c.Max(s => s.Length), model.Config.HiddenSize }).ToList(),
                                          model.Dtype, hiddenMemoryBytes - runMemory, spillDir);
        var hooks = new LayerwiseHooks
        {
            FinalHidden = (i, batch, normed, weight) =>
            {
                var (t, b) = owners[i];
                if (t >= 0) plans[t].ScoreBatch(b, normed, weight);
                else kept.Put(b, normed);                                                     // (B, T, H), taken over by the store
            },
        };
        var (bytes, spilled) = batches.Count == 0 ? (0L, false) : LayerwiseRunner.Run(model, batches, hooks, runMemory, spillDir, progress);
        double seconds = clock.Elapsed.TotalSeconds;
        var results = tasks.Select((t, i) => TaskRunner.MultipleChoiceResult(t, plans[i].Result(), seconds)).ToList();
        if (reference is null) return new LayerwiseEvaluationResult(results, null, bytes, spilled);

        var sum = new KlAccumulator(positionsPerChunk);
        Tensor? modelWeight = null;                                                           // (V, H), read at the reference's head
        try
        {
            var referenceHooks = new LayerwiseHooks
            {
                FinalHidden = (k, batch, normed, weight) =>
                {
                    modelWeight ??= model.LoadOutputWeight().DetachFromDisposeScope();  // kept past this batch's scope
                    using var mine = kept.Take(k);                                            // (B, T, H)
                    sum.Add(klBatches[k], batch.Length, mine.reshape(-1, mine.shape[2]), modelWeight,
                            normed.reshape(-1, normed.shape[2]), weight);                     // (B·T, H) each
                },
            };
            long referenceMemory = Math.Max(0, hiddenMemoryBytes - (kept.Spilled ? 0 : kept.Bytes));
            var (referenceBytes, referenceSpilled) = LayerwiseRunner.Run(reference, klBatches.Select(c => LayerBatch.Padded(c)).ToList(), referenceHooks,
                                                                         referenceMemory, spillDir, progress);
            return new LayerwiseEvaluationResult(results, sum.Result(), Math.Max(bytes, referenceBytes) + kept.Bytes,
                                                 spilled || referenceSpilled || kept.Spilled);
        }
        finally
        {
            modelWeight?.Dispose();
        }
    }
}
