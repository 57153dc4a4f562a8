using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.IO.Gguf;

/// <summary>
/// Receives a model's tensors under their Hugging Face names, in any order, and writes them into a GGUF
/// file whose header was fixed up front from the config (<see cref="GgufTensorPlan"/>): the shape every
/// future checkpoint sink needs (<c>Write(name, tensor)</c> per tensor, <see cref="Complete"/> at the end,
/// <see cref="Dispose"/> without Complete leaves nothing behind). Refusals run in the constructor, before
/// the file is created. Tensors are not kept: each is converted, rewritten and written at its offset.
/// </summary>
public sealed class GgufCheckpointSink : IDisposable
{
    private readonly GgufTensorPlan _plan;
    private readonly GgufWriter _writer;
    private readonly string _source;

    /// <param name="config">The config of the model being written (after pruning or merging).</param>
    /// <param name="tokenizer">The <c>tokenizer.ggml.*</c> metadata (<see cref="GgufVocabulary"/>).</param>
    /// <param name="name">The model's name (<c>general.name</c>).</param>
    public GgufCheckpointSink(MoeConfig config, GgufMetadata tokenizer, string outFile, GgufFloatType type, string name)
    {
        var arch = GgufArchitecture.For(config.Family);
        GgufCompatibility.Check(config, arch, config.Path);
        _source = outFile;
        _plan = new GgufTensorPlan(config, arch, type);
        var metadata = GgufModelMetadata.Build(config, arch, type, name).AddAll(tokenizer);
        _writer = GgufWriter.Create(outFile, metadata, _plan.Tensors);
    }

    /// <summary>The plan: GGUF tensors and the Hugging Face names accepted.</summary>
    public GgufTensorPlan Plan => _plan;

    /// <summary>Writes <paramref name="tensor"/> (not disposed) wherever its Hugging Face name maps.</summary>
    public void Write(string hfName, Tensor tensor)
    {
        var placements = _plan.Route(hfName)
            ?? throw new InvalidOperationException($"GGUF {_source}: unexpected tensor {hfName}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var values = tensor.detach().to(ScalarType.Float32);                              // any dtype → fp32 before rewrites
        foreach (var p in placements) _writer.Write(p.GgufName, p.ElementOffset, p.Transform(values));
    }

    /// <summary>Checks that every GGUF tensor was filled and renames the file into place.</summary>
    public void Complete() => _writer.Complete();

    public void Dispose() => _writer.Dispose();
}
