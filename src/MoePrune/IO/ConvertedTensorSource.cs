using MoePrune.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.IO;

/// <summary>
/// Another source's tensors in one dtype, as a model loaded in that dtype holds them: each read converts
/// (<c>to(dtype)</c>, the rounding of <see cref="ModelLoader"/>'s copy into its parameters) and
/// <see cref="CopyBytes"/> writes the converted bytes, so an export from it equals the export from the loaded model.
/// Used only where the stored and the compute dtype differ; otherwise exports copy the stored bytes.
/// </summary>
public sealed class ConvertedTensorSource : ITensorSource
{
    private readonly ITensorSource _inner;
    private readonly ScalarType _dtype;

    public ConvertedTensorSource(ITensorSource inner, ScalarType dtype)
    {
        _inner = inner;
        _dtype = dtype;
        var stored = SafeDtypes.FromTorch(dtype);
        var tensors = new SortedDictionary<string, SourceTensor>(TensorOrder.Comparer);
        foreach (var (name, t) in inner.Tensors) tensors[name] = t with { Dtype = stored };
        Tensors = tensors;
    }

    /// <summary>Whether <paramref name="source"/> must be converted to give what a model loaded in <paramref name="dtype"/> exports.</summary>
    public static bool Needed(ITensorSource source, ScalarType dtype) =>
        source.Config.Dtype != dtype || source.Tensors.Values.Any(t => t.Dtype != SafeDtypes.FromTorch(dtype));

    public string Description => _inner.Description;
    public MoeConfig Config => _inner.Config;
    public ScalarType? DtypeOverride => _dtype == _inner.Config.Dtype ? null : _dtype;
    public IReadOnlyDictionary<string, SourceTensor> Tensors { get; }

    public Tensor Read(string name)
    {
        using var value = _inner.Read(name);                                              // stored dtype
        return value.to(_dtype, copy: true);
    }

    public void ReadInto(string name, Tensor destination)
    {
        using var value = Read(name);
        using var noGrad = no_grad();
        destination.copy_(value);
    }

    public void CopyBytes(string name, Stream destination)
    {
        using var value = Read(name);
        using var output = OutputTensor.FromTensor(name, value);
        output.WriteTo(destination);
    }

    public void Dispose() => _inner.Dispose();
}
