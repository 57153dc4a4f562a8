using System.Diagnostics;
using MoePrune.Models;
using MoePrune.Observation;
using MoePrune.Progress;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Layerwise;

/// <summary>What a layer-by-layer run does besides the forward: observers of the sparse layers, and callbacks.</summary>
public sealed class LayerwiseHooks
{
    /// <summary>Receive the same routing events as observers of the in-memory model (layer by layer, batches in order).</summary>
    public IReadOnlyList<IMoeObserver> Observers { get; init; } = [];
    /// <summary>Before a batch goes through a decoder layer (e.g. to tell a collector the batch's source, or to mask experts).</summary>
    public Action<LayerBatch, DecoderLayer>? BeforeBatch { get; init; }
    /// <summary>After every batch went through a decoder layer, while it is still loaded (weight criteria, NAEE).</summary>
    public Action<DecoderLayer>? AfterLayer { get; init; }
    /// <summary>When set, the final norm and output projection run at the end: batch index, batch and its logits (B, T, V), valid during the call.</summary>
    public Action<int, LayerBatch, Tensor>? Head { get; init; }
    /// <summary>
    /// When set, the final norm runs at the end and, instead of full logits, hands batch index, batch, its normed hidden
    /// states (B, T, H) and the output weight (V, H), valid during the call (heads that need only some positions' logits).
    /// </summary>
    public Action<int, LayerBatch, Tensor, Tensor>? FinalHidden { get; init; }

    internal bool HasHead => Head is not null || FinalHidden is not null;
}

/// <summary>
/// Layer-by-layer execution (REAP's block replay, llm-compressor's sequential pipeline): embed every batch; then for
/// each decoder layer read only its tensors, run every batch through it (observers see the same routing events as
/// on the in-memory model), keep the outputs as the next layer's inputs (<see cref="HiddenStates"/>: in memory or
/// in a temporary file) and free the layer; optionally the final norm and output projection. Memory ≈ the largest
/// part + the hidden states of all batches, whatever the number of layers. With no batches, each layer is only
/// loaded, shown to <see cref="LayerwiseHooks.AfterLayer"/> and freed (criteria that read weights only).
/// </summary>
public static class LayerwiseRunner
{
    /// <param name="hiddenMemoryBytes">Most bytes of hidden states held in memory before they go to a temporary file.</param>
    /// <param name="spillDir">Folder of that file (the temp folder when null).</param>
    /// <returns>The hidden states' total bytes and whether they were spilled.</returns>
    public static (long HiddenBytes, bool Spilled) Run(LayerwiseCheckpoint checkpoint, IReadOnlyList<LayerBatch> batches, LayerwiseHooks hooks,
        long hiddenMemoryBytes = long.MaxValue, string? spillDir = null, Action<LayerwiseProgress>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var config = checkpoint.Config;
        int layers = config.NumHiddenLayers;
        // progress in batches through every part (in layers when there are no batches)
        int perPart = Math.Max(1, batches.Count);
        long total = batches.Count == 0 ? layers : (long)perPart * (layers + 1 + (hooks.HasHead ? 1 : 0));
        void Report(LayerwiseStage stage, string part, int layer, int batch)
        {
            var p = new LayerwiseProgress(stage, part, layer, layers, batch, batches.Count, checkpoint.BytesRead, checkpoint.ReadSeconds,
                                          clock.Elapsed.TotalSeconds);
            progress?.Invoke(p);
            if (!StepProgress.IsListening) return;
            int index = part == "embedding" ? 0 : part == "layer" ? layer + (batches.Count == 0 ? 0 : 1) : layers + 1;
            long done = batches.Count == 0 ? layer + (stage == LayerwiseStage.Done ? 1 : 0) : (long)index * perPart + batch;
            StepProgress.Report("layer by layer", done, total, batches.Count == 0 ? "layers" : "batches", Detail(p));
        }

        using var noGrad = no_grad();
        using var hidden = new HiddenStates(batches.Select(b => new long[] { b.Rows, b.Length, config.HiddenSize }).ToList(),
                                            checkpoint.Dtype, hiddenMemoryBytes, spillDir);
        var positions = new Dictionary<int, PositionEmbeddings>();
        var contexts = new List<LayerBatchContext>();
        try
        {
            foreach (var b in batches)
            {
                if (!positions.TryGetValue(b.Length, out var p)) positions[b.Length] = p = new PositionEmbeddings(b.Length, CPU);
                contexts.Add(new LayerBatchContext(b, p, config.SlidingWindow, hooks.Observers.Count > 0));
            }
            if (batches.Count > 0)
                using (var embedding = checkpoint.LoadEmbedding())
                {
                    Report(LayerwiseStage.Loaded, "embedding", -1, 0);
                    for (int i = 0; i < batches.Count; i++)
                    {
                        using var scope = NewDisposeScope();
                        hidden.Put(i, embedding.forward(batches[i].IdsTensor()));                 // (B, T, H)
                        Report(LayerwiseStage.Batch, "embedding", -1, i + 1);
                    }
                    Report(LayerwiseStage.Done, "embedding", -1, batches.Count);
                }
            for (int l = 0; l < layers; l++)
            {
                Native.MallocTuning.Trim();                                                       // the last part's memory back before the next is read
                using var layer = checkpoint.LoadLayer(l, hooks.Observers);
                Report(LayerwiseStage.Loaded, "layer", l, 0);
                for (int i = 0; i < batches.Count; i++)
                {
                    using var scope = NewDisposeScope();
                    hooks.BeforeBatch?.Invoke(batches[i], layer);
                    var ctx = contexts[i];
                    using var x = hidden.Take(i);                                                 // (B, T, H)
                    var output = layer.forward(new DecoderLayerInput(x, ctx.Positions, ctx.Mask(), ctx.ValidRows, ctx.TokenIds));
                    hidden.Put(i, output.Hidden);                                                 // (B, T, H)
                    Report(LayerwiseStage.Batch, "layer", l, i + 1);
                }
                hooks.AfterLayer?.Invoke(layer);
                Report(LayerwiseStage.Done, "layer", l, batches.Count);
            }
            Native.MallocTuning.Trim();
            if (hooks.HasHead && batches.Count > 0)
            {
                RunHead(checkpoint, batches, hidden, hooks, i => Report(LayerwiseStage.Batch, "head", -1, i));
                Report(LayerwiseStage.Done, "head", -1, batches.Count);
            }
        }
        finally
        {
            foreach (var c in contexts) c.Dispose();
            foreach (var p in positions.Values) p.Dispose();
        }
        return (hidden.Bytes, hidden.Spilled);
    }

    /// <summary>"layer 3/32, batch 5/16, 1.41 GB read at 1450 MB/s, RSS 1.02 GB".</summary>
    private static string Detail(LayerwiseProgress p)
    {
        string where = p.Part == "layer" ? $"layer {p.Layer + 1}/{p.Layers}" : p.Part;
        string batch = p.Batches == 0 ? "" : $", batch {p.Batch}/{p.Batches}";
        string rss = OperatingSystem.IsLinux() ? $", RSS {CheckpointSizes.Format(Benchmarks.LoadMemory.StatusBytes("VmRSS"))}" : "";
        return $"{where}{batch}, {CheckpointSizes.Format(p.BytesRead)} read at {p.ReadMegabytesPerSecond:F0} MB/s{rss}";
    }

    /// <summary>norm → output projection per batch, as <see cref="MoeForCausalLM.forward"/> ends (or norm only, for <see cref="LayerwiseHooks.FinalHidden"/>).</summary>
    private static void RunHead(LayerwiseCheckpoint checkpoint, IReadOnlyList<LayerBatch> batches, HiddenStates hidden,
                                LayerwiseHooks hooks, Action<int> done)
    {
        using var norm = checkpoint.LoadNorm();
        using var weight = checkpoint.LoadOutputWeight();                                         // (V, H)
        for (int i = 0; i < batches.Count; i++)
        {
            using var scope = NewDisposeScope();
            using var x = hidden.Take(i);                                                         // (B, T, H)
            var normed = norm.forward(x);                                                         // (B, T, H)
            hooks.FinalHidden?.Invoke(i, batches[i], normed, weight);
            if (hooks.Head is { } head) head(i, batches[i], nn.functional.linear(normed, weight)); // (B, T, V)
            done(i + 1);
        }
    }
}
