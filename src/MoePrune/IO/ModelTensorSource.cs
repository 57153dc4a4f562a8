using MoePrune.Models;
using MoePrune.Quantization.Fp8;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.IO;

/// <summary>
/// A live model as a tensor source: its parameters under their state-dict names, in the model's dtype.
/// Reads are detached aliases of the parameters (no copy). A model loaded from FP8 (<see cref="MoeForCausalLM.Fp8"/>)
/// shows those weights as the checkpoint held them: F8_E4M3 codes (re-encoded with the recorded scales, hence the
/// stored bytes for unchanged weights) plus their float32 <c>…_scale_inv</c> tensors. The model stays the caller's;
/// disposing the source does not dispose it.
/// </summary>
public sealed class ModelTensorSource : ITensorSource
{
    private readonly Dictionary<string, Tensor> _parameters;
    private readonly Fp8Weights? _fp8;
    private readonly Dictionary<string, string> _scaleOf = [];                  // scale tensor name → its FP8 weight
    private (string Weight, Tensor Codes, Tensor Scale)? _encoded;             // the last FP8 weight encoded

    public ModelTensorSource(MoeForCausalLM model)
    {
        Config = model.Config;
        DtypeOverride = model.Dtype == model.Config.Dtype ? null : model.Dtype;
        _parameters = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        _fp8 = model.Fp8;
        var tensors = new SortedDictionary<string, SourceTensor>(TensorOrder.Comparer);
        foreach (var (name, p) in _parameters)
        {
            if (_fp8?.Contains(name) == true)
            {
                string scale = Fp8Weights.ScaleName(name);
                tensors[name] = new SourceTensor(name, SafeDtype.F8_E4M3, p.shape);
                tensors[scale] = new SourceTensor(scale, SafeDtype.F32, _fp8.ScaleInv(name).shape);
                _scaleOf[scale] = name;
            }
            else tensors[name] = new SourceTensor(name, SafeDtypes.FromTorch(p.dtype), p.shape);
        }
        Tensors = tensors;
    }

    public string Description => "the in-memory model";
    public MoeConfig Config { get; }
    public ScalarType? DtypeOverride { get; }
    public IReadOnlyDictionary<string, SourceTensor> Tensors { get; }

    public Tensor Read(string name)
    {
        if (_scaleOf.TryGetValue(name, out var weight)) return Encoded(weight).Scale.clone();       // (R/b0, C/b1) fp32
        if (_fp8?.Contains(name) == true) return Encoded(name).Codes.clone();                      // (R, C) uint8
        return Parameter(name).detach();
    }

    public void ReadInto(string name, Tensor destination)
    {
        if (_fp8?.Contains(name) == true || _scaleOf.ContainsKey(name))
        {
            using var stored = Read(name);
            using var storedNoGrad = no_grad();
            destination.copy_(stored);
            return;
        }
        var p = Parameter(name);
        if (!destination.shape.SequenceEqual(p.shape))
            throw new MoePruneException($"{Description}: tensor \"{name}\" has shape [{string.Join(", ", p.shape)}] but the destination has [{string.Join(", ", destination.shape)}]");
        using var noGrad = no_grad();
        destination.copy_(p);
    }

    public void CopyBytes(string name, Stream destination)
    {
        using var value = Read(name);
        using var output = OutputTensor.FromTensor(name, value);
        output.WriteTo(destination);
    }

    public void Dispose() => ForgetEncoded();

    /// <summary>Codes and scale of an FP8 weight, computed once for the weight and its scale tensor (which follow each other in export order).</summary>
    private (Tensor Codes, Tensor Scale) Encoded(string weight)
    {
        if (_encoded is { } e && e.Weight == weight) return (e.Codes, e.Scale);
        ForgetEncoded();
        var (codes, scale) = _fp8!.Encode(weight, Parameter(weight));
        _encoded = (weight, codes.DetachFromDisposeScope(), scale.DetachFromDisposeScope());
        return (codes, scale);
    }

    private void ForgetEncoded()
    {
        if (_encoded is not { } e) return;
        e.Codes.Dispose();
        e.Scale.Dispose();
        _encoded = null;
    }

    private Tensor Parameter(string name) =>
        _parameters.TryGetValue(name, out var p) ? p : throw new MoePruneException($"{Description}: no tensor named \"{name}\"");
}
