using MoePrune.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.IO;

/// <summary>
/// Another source's tensors in one dtype, as a model loaded in that dtype holds them: each read converts
/// (<c>to(dtype)</c>, the rounding of <see cref="ModelLoader"/>'s copy into its parameters) and
/// <see cref="CopyBytes"/> writes the converted bytes, so an export from it equals the export from the loaded model.
/// Used only where the stored and the compute dtype differ; otherwise exports copy the stored bytes. Tensors a model
/// holds in their stored dtype whatever its own pass through unchanged: the float32 routing score-correction bias, and
/// FP8 codes with their scales (a loaded model re-encodes them to the stored bytes, <see cref="Quantization.Fp8.Fp8Weights"/>).
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
        foreach (var (name, t) in inner.Tensors) tensors[name] = KeepsStoredDtype(inner, name) ? t : t with { Dtype = stored };
        Tensors = tensors;
    }

    /// <summary>Whether <paramref name="source"/> must be converted to give what a model loaded in <paramref name="dtype"/> exports.</summary>
    public static bool Needed(ITensorSource source, ScalarType dtype) =>
        source.Config.Dtype != dtype || source.Tensors.Values.Any(t => t.Dtype != SafeDtypes.FromTorch(dtype) && !KeepsStoredDtype(source, t.Name));

    /// <summary>The score-correction bias, an FP8 weight or an FP8 weight's scale: held as stored in every model dtype.</summary>
    private static bool KeepsStoredDtype(ITensorSource source, string name) =>
        name.EndsWith(Router.ScoreCorrectionBiasName, StringComparison.Ordinal)
        || source.Tensors[name].Dtype == SafeDtype.F8_E4M3
        || name.EndsWith(Quantization.Fp8.Fp8Weights.ScaleSuffix, StringComparison.Ordinal)
           && source.Tensors.TryGetValue(name[..^Quantization.Fp8.Fp8Weights.ScaleSuffix.Length], out var weight) && weight.Dtype == SafeDtype.F8_E4M3;

    public string Description => _inner.Description;
    public MoeConfig Config => _inner.Config;
    public ScalarType? DtypeOverride => _dtype == _inner.Config.Dtype ? null : _dtype;
    public IReadOnlyDictionary<string, SourceTensor> Tensors { get; }

    public Tensor Read(string name)
    {
        if (KeepsStoredDtype(_inner, name)) return _inner.Read(name);                     // as stored
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
        if (KeepsStoredDtype(_inner, name))
        {
            _inner.CopyBytes(name, destination);
            return;
        }
        using var value = Read(name);
        using var output = OutputTensor.FromTensor(name, value);
        output.WriteTo(destination);
    }

    public void Dispose() => _inner.Dispose();
}
