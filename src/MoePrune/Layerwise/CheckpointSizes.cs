using MoePrune.IO;
using MoePrune.Models;
using TorchSharp;

namespace MoePrune.Layerwise;

/// <summary>
/// The bytes a checkpoint's parts take in memory in the compute dtype: each decoder layer, the embedding matrix,
/// the output projection (lm_head, or the embedding again when tied) and the whole model. Read from a shape-only
/// (meta device) model, so nothing is allocated.
/// </summary>
public sealed record CheckpointSizes(IReadOnlyDictionary<int, long> Layers, long Embedding, long Output, long Model)
{
    /// <summary>The largest unit the layer-by-layer runner holds at once: a decoder layer, the embedding or the output projection.</summary>
    public long LargestUnit => Math.Max(Layers.Values.DefaultIfEmpty(0).Max(), Math.Max(Embedding, Output));

    /// <summary>The index of the largest decoder layer.</summary>
    public int LargestLayer => Layers.MaxBy(kv => kv.Value).Key;

    /// <param name="shapes">A model of the checkpoint's config in the compute dtype (meta device).</param>
    public static CheckpointSizes From(MoeForCausalLM shapes)
    {
        long size = SafeDtypes.SizeOf(SafeDtypes.FromTorch(shapes.Dtype));
        var layers = new SortedDictionary<int, long>();
        long embedding = 0, output = 0, model = 0;
        foreach (var (name, p) in shapes.named_parameters())
        {
            long bytes = p.numel() * size;
            model += bytes;
            if (TensorOrder.LayerOf(name) is int layer)
                layers[layer] = layers.GetValueOrDefault(layer) + bytes;
            else if (name == "model.embed_tokens.weight") embedding = bytes;
            else if (name == "lm_head.weight") output = bytes;
        }
        return new CheckpointSizes(layers, embedding, output == 0 ? embedding : output, model);
    }

    /// <summary>Bytes as "1.23 GB" / "45.6 MB" (powers of 1000).</summary>
    public static string Format(long bytes) => bytes >= 1_000_000_000
        ? $"{bytes / 1e9:F2} GB"
        : bytes >= 1_000_000 ? $"{bytes / 1e6:F1} MB" : $"{bytes / 1e3:F1} kB";

    internal static torch.Device Meta => new(DeviceType.META);
}
