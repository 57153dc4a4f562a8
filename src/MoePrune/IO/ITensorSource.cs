using MoePrune.Models;
using TorchSharp;

namespace MoePrune.IO;

/// <summary>
/// Where a model's tensors come from, without saying how they are held: a live model
/// (<see cref="ModelTensorSource"/>) or a checkpoint directory read tensor by tensor
/// (<see cref="CheckpointTensorSource"/>). Every source names its tensors as the model's state dict does
/// (Hugging Face per-expert names, whatever the layout on disk) and lists them in <see cref="TensorOrder"/>.
/// Surgery exports read from a source; layer-by-layer execution reads one decoder layer's tensors at a time.
/// </summary>
public interface ITensorSource : IDisposable
{
    /// <summary>The source in words for messages (a directory, or "the in-memory model").</summary>
    string Description { get; }

    /// <summary>The model config the tensors belong to.</summary>
    MoeConfig Config { get; }

    /// <summary>The dtype the tensors are held in when the config names another one (a model loaded in another dtype); else null.</summary>
    torch.ScalarType? DtypeOverride { get; }

    /// <summary>Every tensor by canonical name, in <see cref="TensorOrder"/>.</summary>
    IReadOnlyDictionary<string, SourceTensor> Tensors { get; }

    /// <summary>The tensor's values in its stored dtype and shape: a new handle the caller disposes (a fresh CPU tensor, or for a live model a detached alias that must not be modified).</summary>
    torch.Tensor Read(string name);

    /// <summary>Copies the tensor into <paramref name="destination"/> (same shape; dtype and device converted; no autograd history).</summary>
    void ReadInto(string name, torch.Tensor destination);

    /// <summary>Writes the stored bytes (row-major, little-endian, <see cref="SourceTensor.Bytes"/> of them) to <paramref name="destination"/>, unchanged.</summary>
    void CopyBytes(string name, Stream destination);
}

/// <summary>One tensor of an <see cref="ITensorSource"/>: canonical name, stored dtype and shape.</summary>
public sealed record SourceTensor(string Name, SafeDtype Dtype, long[] Shape)
{
    /// <summary>Its decoder layer, or null for embeddings, final norm and lm_head.</summary>
    public int? Layer { get; } = TensorOrder.LayerOf(Name);

    public long Elements => Shape.Aggregate(1L, (a, b) => checked(a * b));
    public long Bytes => Elements * SafeDtypes.SizeOf(Dtype);

    public override string ToString() => $"{Name} {Dtype}[{string.Join(", ", Shape)}]";
}

/// <summary>Grouping of a source's tensors by decoder layer.</summary>
public static class TensorSourceLayers
{
    /// <summary>The tensors of decoder layer <paramref name="layer"/>, in canonical order.</summary>
    public static IEnumerable<SourceTensor> LayerTensors(this ITensorSource source, int layer) =>
        source.Tensors.Values.Where(t => t.Layer == layer);

    /// <summary>The tensors outside the decoder layers (embeddings, final norm, lm_head), in canonical order.</summary>
    public static IEnumerable<SourceTensor> OtherTensors(this ITensorSource source) =>
        source.Tensors.Values.Where(t => t.Layer is null);
}
