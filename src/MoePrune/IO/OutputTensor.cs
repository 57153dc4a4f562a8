using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace MoePrune.IO;

/// <summary>
/// One tensor handed to a writer: its name, dtype and shape up front, its bytes (row-major, little-endian,
/// exactly <see cref="Bytes"/> of them) produced only when the writer asks. A writer can therefore lay out
/// a whole shard from the metadata and pull each tensor's data from its source at the moment it writes it.
/// Disposing releases what the tensor owns (e.g. a freshly computed torch tensor); the writer disposes
/// every output it was given, written or not.
/// </summary>
public sealed class OutputTensor : IDisposable
{
    private readonly Action<Stream> _write;
    private IDisposable? _owned;

    public string Name { get; }
    public SafeDtype Dtype { get; }
    public long[] Shape { get; }

    /// <summary>Number of elements × element size.</summary>
    public long Bytes { get; }

    /// <param name="write">Writes exactly <see cref="Bytes"/> bytes; called at most once.</param>
    /// <param name="owned">Disposed with this output.</param>
    public OutputTensor(string name, SafeDtype dtype, long[] shape, Action<Stream> write, IDisposable? owned = null)
    {
        Name = name;
        Dtype = dtype;
        Shape = shape;
        Bytes = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * SafeDtypes.SizeOf(dtype));
        _write = write;
        _owned = owned;
    }

    /// <summary>
    /// The bytes of a torch tensor (any device, any layout; moved to CPU and made contiguous when written).
    /// With <paramref name="owned"/> the tensor is disposed with this output. Throws for dtypes safetensors cannot hold.
    /// </summary>
    public static OutputTensor FromTensor(string name, torch.Tensor tensor, bool owned = false)
    {
        if (!SafeDtypes.TryFromTorch(tensor.dtype, out var dtype))
            throw new MoePruneException(
                $"tensor \"{name}\" has dtype {tensor.dtype}, which cannot be written to safetensors (supported: {string.Join(", ", Enum.GetNames<SafeDtype>())})");
        return new OutputTensor(name, dtype, tensor.shape, stream => WriteTensor(stream, tensor), owned ? tensor : null);
    }

    /// <summary>A managed array (double, float, long, ulong, int, short, sbyte, byte or bool) with the given shape (default: 1-D).</summary>
    public static OutputTensor FromArray<T>(string name, T[] data, params long[] shape) where T : unmanaged
    {
        long[] s = shape.Length == 0 ? [data.LongLength] : shape;
        var output = new OutputTensor(name, SafeDtypes.FromElementType(typeof(T)), s, stream => stream.Write(MemoryMarshal.AsBytes(data.AsSpan())));
        if (output.Bytes != (long)data.Length * Unsafe.SizeOf<T>())
            throw new ArgumentException($"array \"{name}\" has {data.Length} elements, shape [{string.Join(", ", s)}] needs {output.Bytes / Unsafe.SizeOf<T>()}");
        return output;
    }

    /// <summary>Writes the bytes to <paramref name="stream"/>; checks the count when the stream can tell its position.</summary>
    public void WriteTo(Stream stream)
    {
        long start = stream.CanSeek ? stream.Position : -1;
        _write(stream);
        if (start >= 0 && stream.Position - start != Bytes)
            throw new InvalidOperationException($"tensor \"{Name}\" wrote {stream.Position - start} bytes, its dtype and shape need {Bytes}");
    }

    public void Dispose()
    {
        _owned?.Dispose();
        _owned = null;
    }

    public override string ToString() => $"{Name} {Dtype}[{string.Join(", ", Shape)}]";

    private static void WriteTensor(Stream stream, torch.Tensor tensor)
    {
        if (tensor.device_type == DeviceType.CPU && tensor.is_contiguous())
        {
            TensorBytes.WriteToStream(stream, tensor);
            return;
        }
        using var cpu = tensor.detach().cpu().contiguous();              // same shape and dtype, CPU, row-major
        TensorBytes.WriteToStream(stream, cpu);
    }
}
