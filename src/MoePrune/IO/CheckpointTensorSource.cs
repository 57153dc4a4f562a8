using MoePrune.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.IO;

/// <summary>
/// A Hugging Face checkpoint directory as a tensor source, read tensor by tensor and never whole: each
/// canonical tensor is a contiguous byte range of one shard (a whole stored tensor, or one expert's slice of a
/// transformers-v5 fused tensor, mapped by <see cref="CheckpointLayout.Place"/>). No model is built; memory
/// holds headers only, plus whatever tensor a caller reads.
/// </summary>
public sealed class CheckpointTensorSource : ITensorSource
{
    /// <summary>Where a canonical tensor's bytes are: stored tensor <paramref name="DiskName"/>, from flat element <paramref name="ElementOffset"/>.</summary>
    private sealed record Location(string DiskName, long ElementOffset, bool Whole);

    private readonly CheckpointDirectory _checkpoint;
    private readonly Dictionary<string, Location> _locations;

    private CheckpointTensorSource(CheckpointDirectory checkpoint, MoeConfig config,
                                   SortedDictionary<string, SourceTensor> tensors, Dictionary<string, Location> locations)
    {
        _checkpoint = checkpoint;
        Config = config;
        Tensors = tensors;
        _locations = locations;
    }

    /// <summary>Opens <paramref name="dir"/>: validates headers and config and maps every stored tensor to canonical names.</summary>
    public static CheckpointTensorSource Open(string dir)
    {
        var checkpoint = CheckpointDirectory.Open(dir);
        try
        {
            var config = MoeConfig.Parse(checkpoint.Config, Path.Combine(dir, CheckpointDirectory.ConfigFile));
            var tensors = new SortedDictionary<string, SourceTensor>(TensorOrder.Comparer);
            var locations = new Dictionary<string, Location>();
            var problems = new List<string>();
            foreach (var (diskName, entry) in checkpoint.Tensors)
            {
                var placement = CheckpointLayout.Place(diskName, entry.Shape, config);
                if (!placement.IsWhole && !entry.Shape.SequenceEqual(placement.ExpectedShape))
                {
                    problems.Add($"{diskName} [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", placement.ExpectedShape)}]");
                    continue;
                }
                foreach (var target in placement.Targets)
                {
                    if (!tensors.TryAdd(target.Param, new SourceTensor(target.Param, entry.Dtype, target.Shape(entry.Shape))))
                    {
                        problems.Add($"{target.Param} stored twice (again in {diskName})");
                        continue;
                    }
                    locations[target.Param] = new Location(diskName, target.ElementOffset(entry.Shape), placement.IsWhole);
                }
            }
            if (problems.Count > 0)
                throw new MoePruneException($"{dir}: {problems.Count} checkpoint tensor(s) do not fit the {config.ModelType} config: {MoePruneException.Summarize(problems, 3)}", problems);
            return new CheckpointTensorSource(checkpoint, config, tensors, locations);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    public string Description => _checkpoint.Dir;
    public MoeConfig Config { get; }
    public ScalarType? DtypeOverride => null;
    public IReadOnlyDictionary<string, SourceTensor> Tensors { get; }

    /// <summary>The stored tensor that holds canonical tensor <paramref name="name"/> (e.g. a fused <c>gate_up_proj</c>).</summary>
    public string StoredNameOf(string name) => Locate(name).DiskName;

    public Tensor Read(string name)
    {
        var at = Locate(name);
        var file = _checkpoint.FileOf(at.DiskName);
        return at.Whole ? file.Read(at.DiskName) : file.ReadSlice(at.DiskName, at.ElementOffset, Tensors[name].Shape);
    }

    public void ReadInto(string name, Tensor destination)
    {
        var at = Locate(name);
        if (at.Whole)
        {
            _checkpoint.ReadInto(at.DiskName, destination);
            return;
        }
        var shape = Tensors[name].Shape;
        if (!destination.shape.SequenceEqual(shape))
            throw new MoePruneException($"{Description}: tensor \"{name}\" has shape [{string.Join(", ", shape)}] but the destination has [{string.Join(", ", destination.shape)}]");
        using var value = Read(name);                                                   // stored dtype, CPU
        using var noGrad = no_grad();
        destination.copy_(value);
    }

    public void CopyBytes(string name, Stream destination)
    {
        var at = Locate(name);
        _checkpoint.FileOf(at.DiskName).CopyBytes(at.DiskName, destination, at.ElementOffset, Tensors[name].Elements);
    }

    public void Dispose() => _checkpoint.Dispose();

    private Location Locate(string name) =>
        _locations.TryGetValue(name, out var at) ? at : throw new MoePruneException($"{Description}: no tensor named \"{name}\"");
}
