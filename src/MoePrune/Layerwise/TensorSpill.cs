using Microsoft.Win32.SafeHandles;
using MoePrune.IO;
using MoePrune.Pruning;
using static TorchSharp.torch;

namespace MoePrune.Layerwise;

/// <summary>
/// Tensors computed during a layer-by-layer run that must outlive their layer but not stay in memory (a merge's merged
/// experts, written only by the export at the end): appended to one temporary file (deleted on dispose) and read back
/// on demand through a <see cref="PlannedTensor"/>. Bytes go out and come back unchanged.
/// </summary>
public sealed class TensorSpill : IDisposable
{
    private readonly SafeFileHandle _file;
    private long _end;

    /// <param name="dir">Folder of the file (the temp folder when null).</param>
    public TensorSpill(string? dir = null)
    {
        string folder = dir ?? Path.GetTempPath();
        FilePath = Path.Combine(folder, $"moeprune-spill-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
        try
        {
            _file = File.OpenHandle(FilePath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose | FileOptions.RandomAccess);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MoePruneException($"{folder}: cannot create a temporary file for the merged experts ({e.Message})", inner: e);
        }
    }

    /// <summary>The file (deleted on dispose).</summary>
    public string FilePath { get; }
    /// <summary>Bytes stored so far.</summary>
    public long Bytes => _end;

    /// <summary>Stores a copy of <paramref name="tensor"/>'s values (the caller keeps and may dispose it); valid until this spill is disposed.</summary>
    public PlannedTensor Add(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var values = tensor.detach().to(CPU).contiguous();                                    // same shape and dtype
        long offset = _end;
        TensorBytes.WriteToFile(_file, offset, values);
        _end += values.NumberOfElements * values.ElementSize;
        long[] shape = values.shape;
        var dtype = values.dtype;
        return new PlannedTensor(shape, dtype, () =>
        {
            var read = empty(shape, dtype, CPU);
            try
            {
                TensorBytes.ReadFromFile(_file, offset, read, FilePath);
            }
            catch
            {
                read.Dispose();
                throw;
            }
            return read;
        });
    }

    public void Dispose() => _file.Dispose();
}
