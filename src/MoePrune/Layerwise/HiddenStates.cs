using Microsoft.Win32.SafeHandles;
using MoePrune.IO;
using static TorchSharp.torch;

namespace MoePrune.Layerwise;

/// <summary>
/// The hidden states of every batch between two decoder layers, one slot per batch: in memory, or — when they
/// exceed the budget given — in one temporary file (deleted on dispose) at fixed offsets. A batch's hidden states
/// keep their shape through the layers, so each layer's output overwrites its input in place: only one set plus the
/// batch being computed exist at a time. <see cref="Take"/> hands a slot's tensor to the caller; <see cref="Put"/>
/// stores the next one.
/// </summary>
public sealed class HiddenStates : IDisposable
{
    private readonly long[][] _shapes;
    private readonly long[] _offsets;
    private readonly ScalarType _dtype;
    private readonly Tensor?[]? _memory;
    private readonly SafeFileHandle? _file;

    /// <param name="shapes">Each batch's (B, T, H).</param>
    /// <param name="dtype">The compute dtype.</param>
    /// <param name="memoryBytes">Most bytes held in memory; beyond it everything goes to a file in <paramref name="spillDir"/> (the temp folder when null).</param>
    public HiddenStates(IReadOnlyList<long[]> shapes, ScalarType dtype, long memoryBytes, string? spillDir = null)
    {
        _shapes = shapes.Select(s => s.ToArray()).ToArray();
        _dtype = dtype;
        long size = SafeDtypes.SizeOf(SafeDtypes.FromTorch(dtype));
        _offsets = new long[_shapes.Length + 1];
        for (int i = 0; i < _shapes.Length; i++) _offsets[i + 1] = _offsets[i] + _shapes[i].Aggregate(1L, (a, b) => a * b) * size;
        if (Bytes <= memoryBytes)
        {
            _memory = new Tensor?[_shapes.Length];
            return;
        }
        string dir = spillDir ?? Path.GetTempPath();
        SpillPath = Path.Combine(dir, $"moeprune-hidden-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
        try
        {
            _file = File.OpenHandle(SpillPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None,
                                    FileOptions.DeleteOnClose | FileOptions.RandomAccess, preallocationSize: Bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MoePruneException($"{dir}: cannot create the {CheckpointSizes.Format(Bytes)} hidden-state spill file ({e.Message})", inner: e);
        }
    }

    /// <summary>Bytes of all batches' hidden states.</summary>
    public long Bytes => _offsets[^1];
    public int Count => _shapes.Length;
    /// <summary>True when the states live in a temporary file.</summary>
    public bool Spilled => _file is not null;
    /// <summary>The spill file (deleted on dispose), or null in memory.</summary>
    public string? SpillPath { get; }

    /// <summary>Stores <paramref name="hidden"/> (B, T, H) as batch <paramref name="batch"/>; in memory the store takes it over (detached from any dispose scope).</summary>
    public void Put(int batch, Tensor hidden)
    {
        if (!hidden.shape.SequenceEqual(_shapes[batch]) || hidden.dtype != _dtype)
            throw new ArgumentException($"batch {batch}: hidden [{string.Join(", ", hidden.shape)}] {hidden.dtype}, expected [{string.Join(", ", _shapes[batch])}] {_dtype}");
        if (_memory is not null)
        {
            _memory[batch]?.Dispose();
            _memory[batch] = hidden.contiguous().DetachFromDisposeScope();
            if (!ReferenceEquals(_memory[batch], hidden)) hidden.Dispose();
            return;
        }
        using var contiguous = hidden.contiguous();                                           // (B, T, H)
        TensorBytes.WriteToFile(_file!, _offsets[batch], contiguous);
    }

    /// <summary>Batch <paramref name="batch"/>'s hidden states (B, T, H), now the caller's to dispose.</summary>
    public Tensor Take(int batch)
    {
        if (_memory is not null)
        {
            var held = _memory[batch] ?? throw new InvalidOperationException($"hidden states of batch {batch} were never stored");
            _memory[batch] = null;
            return held;
        }
        var hidden = empty(_shapes[batch], _dtype, CPU);                                      // (B, T, H)
        TensorBytes.ReadFromFile(_file!, _offsets[batch], hidden, SpillPath!);
        return hidden;
    }

    public void Dispose()
    {
        if (_memory is not null)
            for (int i = 0; i < _memory.Length; i++)
            {
                _memory[i]?.Dispose();
                _memory[i] = null;
            }
        _file?.Dispose();
    }
}
