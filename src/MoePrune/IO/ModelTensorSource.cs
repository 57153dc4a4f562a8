using MoePrune.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.IO;

/// <summary>
/// A live model as a tensor source: its parameters under their state-dict names, in the model's dtype.
/// Reads are detached aliases of the parameters (no copy). The model stays the caller's; disposing the
/// source does not dispose it.
/// </summary>
public sealed class ModelTensorSource : ITensorSource
{
    private readonly Dictionary<string, Tensor> _parameters;

    public ModelTensorSource(MoeForCausalLM model)
    {
        Config = model.Config;
        DtypeOverride = model.Dtype == model.Config.Dtype ? null : model.Dtype;
        _parameters = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        var tensors = new SortedDictionary<string, SourceTensor>(TensorOrder.Comparer);
        foreach (var (name, p) in _parameters)
            tensors[name] = new SourceTensor(name, SafeDtypes.FromTorch(p.dtype), p.shape);
        Tensors = tensors;
    }

    public string Description => "the in-memory model";
    public MoeConfig Config { get; }
    public ScalarType? DtypeOverride { get; }
    public IReadOnlyDictionary<string, SourceTensor> Tensors { get; }

    public Tensor Read(string name) => Parameter(name).detach();

    public void ReadInto(string name, Tensor destination)
    {
        var p = Parameter(name);
        if (!destination.shape.SequenceEqual(p.shape))
            throw new MoePruneException($"{Description}: tensor \"{name}\" has shape [{string.Join(", ", p.shape)}] but the destination has [{string.Join(", ", destination.shape)}]");
        using var noGrad = no_grad();
        destination.copy_(p);
    }

    public void CopyBytes(string name, Stream destination)
    {
        using var value = Parameter(name).detach();
        using var output = OutputTensor.FromTensor(name, value);
        output.WriteTo(destination);
    }

    public void Dispose() { }

    private Tensor Parameter(string name) =>
        _parameters.TryGetValue(name, out var p) ? p : throw new MoePruneException($"{Description}: no tensor named \"{name}\"");
}
