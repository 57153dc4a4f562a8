using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace MoePrune.IO;

/// <summary>
/// An open safetensors file. <see cref="Open"/> reads and validates only the header; tensor data is
/// read on demand, one tensor at a time, from its offset straight into the tensor's native memory.
/// Reads are positional, so several threads may read different tensors at once. Every read can also
/// append the bytes it reads to an <see cref="XxHash128"/> (the checkpoint fingerprint hashes while loading).
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    readonly SafeFileHandle _handle;
    readonly long _dataStart;

    public string Path { get; }

    /// <summary>All tensors, in the order of their data in the file.</summary>
    public IReadOnlyDictionary<string, TensorEntry> Tensors { get; }

    /// <summary>The header's <c>__metadata__</c> (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The header JSON exactly as stored (without the 8-byte length before it).</summary>
    internal byte[] HeaderJson { get; }

    SafetensorsFile(string path, SafeFileHandle handle, SafetensorsHeader header)
    {
        Path = path;
        _handle = handle;
        _dataStart = header.DataStart;
        HeaderJson = header.Json;
        var tensors = new OrderedDictionary<string, TensorEntry>();
        foreach (var e in header.Entries) tensors.Add(e.Name, e);
        Tensors = tensors;
        Metadata = header.Metadata;
    }

    /// <summary>Opens <paramref name="path"/> and validates its header; throws <see cref="MoePruneException"/> naming the file.</summary>
    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path))
            throw new MoePruneException($"{path}: file not found");
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MoePruneException($"{path}: cannot open ({e.Message})", inner: e);
        }
        try
        {
            return new SafetensorsFile(path, handle, SafetensorsHeader.Read(handle, path));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The entry for <paramref name="name"/>, or a one-line error naming the file.</summary>
    public TensorEntry Entry(string name) =>
        Tensors.TryGetValue(name, out var e) ? e : throw new MoePruneException($"{Path}: no tensor named \"{name}\"");

    /// <summary>A new CPU tensor with the file's dtype and shape holding exactly the stored bytes.</summary>
    public torch.Tensor Read(string name) => Read(name, hash: null);

    /// <summary>As <see cref="Read(string)"/>, appending the bytes read to <paramref name="hash"/> when given.</summary>
    public torch.Tensor Read(string name, XxHash128? hash)
    {
        var entry = Entry(name);
        return ReadRange(entry, 0, entry.Shape, hash);
    }

    /// <summary>
    /// A new CPU tensor of <paramref name="shape"/> holding the contiguous elements of tensor <paramref name="name"/>
    /// that start at flat element <paramref name="elementOffset"/> (e.g. one expert of a fused [E, 2I, H] tensor).
    /// </summary>
    public torch.Tensor ReadSlice(string name, long elementOffset, long[] shape)
    {
        var entry = Entry(name);
        CheckRange(entry, elementOffset, shape.Aggregate(1L, (a, b) => a * b));
        return ReadRange(entry, elementOffset, shape, hash: null);
    }

    /// <summary>
    /// Writes the stored bytes of <paramref name="name"/> (or the <paramref name="elements"/> elements from
    /// <paramref name="elementOffset"/>) to <paramref name="destination"/>, unchanged.
    /// </summary>
    public void CopyBytes(string name, Stream destination, long elementOffset = 0, long? elements = null)
    {
        var entry = Entry(name);
        long count = elements ?? entry.Elements - elementOffset;
        CheckRange(entry, elementOffset, count);
        long size = SafeDtypes.SizeOf(entry.Dtype);
        TensorBytes.CopyFileRange(_handle, _dataStart + entry.Begin + elementOffset * size, count * size, destination, Path);
    }

    /// <summary>Appends the stored bytes of <paramref name="name"/> to <paramref name="hash"/> (reads them, keeps nothing).</summary>
    public void Hash(string name, XxHash128 hash)
    {
        var entry = Entry(name);
        TensorBytes.CopyFileRange(_handle, _dataStart + entry.Begin, entry.Bytes, destination: null, Path, hash);
    }

    /// <summary>A small stored tensor as a managed array; its dtype must be the one of <typeparamref name="T"/> (e.g. U64 for ulong).</summary>
    public T[] ReadArray<T>(string name) where T : unmanaged
    {
        var entry = Entry(name);
        var result = new T[checked((int)entry.Elements)];
        ReadArray<T>(name, result);
        return result;
    }

    /// <summary>Fills <paramref name="destination"/>, which must hold exactly the stored elements, from a tensor of <typeparamref name="T"/>'s dtype.</summary>
    public void ReadArray<T>(string name, Span<T> destination) where T : unmanaged
    {
        var entry = Entry(name);
        var expected = SafeDtypes.FromElementType(typeof(T));
        if (entry.Dtype != expected)
            throw new MoePruneException($"{Path}: tensor \"{name}\" has dtype {entry.Dtype}, expected {expected}");
        if (destination.Length != entry.Elements || entry.Bytes != (long)destination.Length * Unsafe.SizeOf<T>())
            throw new MoePruneException(
                $"{Path}: tensor \"{name}\" has {entry.Elements} elements (shape [{string.Join(", ", entry.Shape)}]), expected {destination.Length}");
        TensorBytes.ReadSpan(_handle, _dataStart + entry.Begin, MemoryMarshal.AsBytes(destination), Path);
    }

    torch.Tensor ReadRange(TensorEntry entry, long elementOffset, long[] shape, XxHash128? hash)
    {
        var tensor = torch.empty(shape, SafeDtypes.ToTorch(entry.Dtype), torch.CPU);       // given shape, file dtype
        try
        {
            long at = _dataStart + entry.Begin + elementOffset * SafeDtypes.SizeOf(entry.Dtype);
            TensorBytes.ReadFromFile(_handle, at, tensor, Path, hash: hash);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    void CheckRange(TensorEntry entry, long elementOffset, long elements)
    {
        if (elementOffset < 0 || elements < 0 || elementOffset + elements > entry.Elements)
            throw new ArgumentOutOfRangeException(nameof(elementOffset),
                $"{Path}: elements [{elementOffset}, {elementOffset + elements}) lie outside tensor \"{entry.Name}\" of {entry.Elements}");
    }

    /// <summary>
    /// Copies the stored tensor into <paramref name="destination"/> (same shape; dtype and device are
    /// converted) without recording autograd history. A contiguous CPU destination of the file's
    /// dtype is filled directly from the file with no intermediate tensor.
    /// </summary>
    public void ReadInto(string name, torch.Tensor destination, XxHash128? hash = null)
    {
        var entry = Entry(name);
        if (!destination.shape.SequenceEqual(entry.Shape))
            throw new MoePruneException(
                $"{Path}: tensor \"{name}\" has shape [{string.Join(", ", entry.Shape)}] but the destination has [{string.Join(", ", destination.shape)}]");
        if (entry.Dtype == SafeDtype.F8_E4M3 && destination.dtype != torch.ScalarType.Byte)
            throw new MoePruneException($"{Path}: tensor \"{name}\" holds FP8 codes; read them as bytes and dequantize with its scale");
        using var noGrad = torch.no_grad();
        if (destination.dtype == SafeDtypes.ToTorch(entry.Dtype) && destination.device_type == DeviceType.CPU && destination.is_contiguous())
        {
            TensorBytes.ReadFromFile(_handle, _dataStart + entry.Begin, destination, Path, hash: hash);
            return;
        }
        using var source = Read(name, hash);                              // file dtype, CPU
        destination.copy_(source);                                        // converts dtype and device
    }

    public void Dispose() => _handle.Dispose();
}
