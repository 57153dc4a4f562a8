using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace MoePrune.IO;

/// <summary>
/// An open safetensors file. <see cref="Open"/> reads and validates only the header; tensor data is
/// read on demand, one tensor at a time, from its offset straight into the tensor's native memory.
/// Reads are positional, so several threads may read different tensors at once.
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

    SafetensorsFile(string path, SafeFileHandle handle, SafetensorsHeader header)
    {
        Path = path;
        _handle = handle;
        _dataStart = header.DataStart;
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
    public torch.Tensor Read(string name)
    {
        var entry = Entry(name);
        var tensor = torch.empty(entry.Shape, SafeDtypes.ToTorch(entry.Dtype), torch.CPU); // file shape, file dtype
        try
        {
            TensorBytes.ReadFromFile(_handle, _dataStart + entry.Begin, tensor, Path);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies the stored tensor into <paramref name="destination"/> (same shape; dtype and device are
    /// converted) without recording autograd history. A contiguous CPU destination of the file's
    /// dtype is filled directly from the file with no intermediate tensor.
    /// </summary>
    public void ReadInto(string name, torch.Tensor destination)
    {
        var entry = Entry(name);
        if (!destination.shape.SequenceEqual(entry.Shape))
            throw new MoePruneException(
                $"{Path}: tensor \"{name}\" has shape [{string.Join(", ", entry.Shape)}] but the destination has [{string.Join(", ", destination.shape)}]");
        using var noGrad = torch.no_grad();
        if (destination.dtype == SafeDtypes.ToTorch(entry.Dtype) && destination.device_type == DeviceType.CPU && destination.is_contiguous())
        {
            TensorBytes.ReadFromFile(_handle, _dataStart + entry.Begin, destination, Path);
            return;
        }
        using var source = Read(name);                                    // file dtype, CPU
        destination.copy_(source);                                        // converts dtype and device
    }

    public void Dispose() => _handle.Dispose();
}
