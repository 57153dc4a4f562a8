using static TorchSharp.torch;

namespace MoePrune.Pruning;

/// <summary>
/// A custom tensor an expert plan writes: held in memory by the caller (a <see cref="Tensor"/> converts to it), or
/// stored elsewhere and read only when the export writes it (<see cref="Layerwise.TensorSpill"/>: the merged experts of
/// a layer-by-layer merge, which would not all fit in memory). Shape and dtype are known without reading it.
/// </summary>
public sealed class PlannedTensor
{
    private readonly Tensor? _held;
    private readonly Func<Tensor>? _read;

    private PlannedTensor(Tensor held)
    {
        _held = held;
        Shape = held.shape;
        Dtype = held.dtype;
    }

    /// <param name="read">Returns a new tensor of <paramref name="shape"/> and <paramref name="dtype"/> each call; the caller of <see cref="Open"/> disposes it.</param>
    public PlannedTensor(long[] shape, ScalarType dtype, Func<Tensor> read)
    {
        Shape = shape.ToArray();
        Dtype = dtype;
        _read = read;
    }

    public static implicit operator PlannedTensor(Tensor held) => new(held);

    public long[] Shape { get; }
    public ScalarType Dtype { get; }
    public bool IsFloatingPoint => is_floating_point(Dtype);

    /// <summary>The values, as a tensor the caller disposes (an alias of a held tensor, or a fresh read).</summary>
    public Tensor Open()
    {
        if (_held is not null) return _held.alias();
        var t = _read!();
        if (!t.shape.SequenceEqual(Shape) || t.dtype != Dtype)
        {
            var got = $"[{string.Join(", ", t.shape)}] {t.dtype}";
            t.Dispose();
            throw new InvalidOperationException($"a stored tensor read back as {got}, expected [{string.Join(", ", Shape)}] {Dtype}");
        }
        return t;
    }
}
