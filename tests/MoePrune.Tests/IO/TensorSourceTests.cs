using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.IO;

/// <summary>
/// A checkpoint read tensor by tensor presents exactly what the loaded model holds: same canonical names (per-expert
/// also for fused files), dtypes, shapes, bytes, in the same order, grouped by layer the same way.
/// </summary>
public class TensorSourceTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases() => new(ModelFixtures.Cases);

    [Theory]
    [MemberData(nameof(Cases))]
    public void CheckpointSourceEqualsTheLoadedModel(string fixture)
    {
        string dir = ModelFixtures.Dir(fixture);
        using var model = ModelLoader.Load(dir);
        using var fromModel = new ModelTensorSource(model);
        using var fromDisk = CheckpointTensorSource.Open(dir);
        Assert.Equal(fromModel.Tensors.Keys, fromDisk.Tensors.Keys);                    // same names, same order
        Assert.Equal(model.named_parameters().Select(p => p.name).Order(StringComparer.Ordinal), fromDisk.Tensors.Keys.Order(StringComparer.Ordinal));
        int fused = 0;
        foreach (var (name, t) in fromDisk.Tensors)
        {
            Assert.Equal(fromModel.Tensors[name].Dtype, t.Dtype);
            Assert.Equal(fromModel.Tensors[name].Shape, t.Shape);
            var viaModel = new MemoryStream();
            var viaDisk = new MemoryStream();
            fromModel.CopyBytes(name, viaModel);
            fromDisk.CopyBytes(name, viaDisk);
            Assert.Equal(viaModel.ToArray(), viaDisk.ToArray());
            Assert.Equal(t.Bytes, viaDisk.Length);
            using var read = fromDisk.Read(name);
            Assert.Equal(viaDisk.ToArray(), read.RawBytes());
            if (fromDisk.StoredNameOf(name) != name) fused++;
        }
        var layers = Enumerable.Range(0, model.Config.NumHiddenLayers).SelectMany(l => fromDisk.LayerTensors(l).Select(t => (l, t))).ToList();
        Assert.All(layers, x => Assert.StartsWith($"model.layers.{x.l}.", x.t.Name));
        Assert.Equal(fromDisk.Tensors.Count, layers.Count + fromDisk.OtherTensors().Count());
        output.WriteLine($"{fixture}: {fromDisk.Tensors.Count} tensors equal in name, dtype, shape and bytes; {fused} read as slices of fused tensors");
        using var checkpoint = CheckpointDirectory.Open(dir);
        Assert.Equal(checkpoint.Tensors.Keys.Any(k => k.EndsWith("experts.gate_up_proj", StringComparison.Ordinal)), fused > 0);
    }

    [Fact]
    public void ReadIntoConvertsAndChecksTheShape()
    {
        string dir = ModelFixtures.Dir("qwen3_moe_rope_parameters_fused");
        using var source = CheckpointTensorSource.Open(dir);
        string name = "model.layers.1.mlp.experts.5.up_proj.weight";                     // a slice of gate_up_proj
        using var expected = source.Read(name);                                          // (I, H) fp32
        using var into = TorchSharp.torch.zeros(expected.shape, TorchSharp.torch.ScalarType.Float64);
        source.ReadInto(name, into);
        Assert.True(into.to(TorchSharp.torch.ScalarType.Float32).equal(expected).all().item<bool>());
        using var wrong = TorchSharp.torch.zeros(3, 3);
        Assert.Contains("has shape", Assert.Throws<MoePruneException>(() => source.ReadInto(name, wrong)).Message);
        Assert.Contains("no tensor named", Assert.Throws<MoePruneException>(() => source.Read("model.layers.1.mlp.experts.gate_up_proj")).Message);
    }

    [Fact]
    public void TensorOrderComparesNumbersAsNumbers()
    {
        string[] sorted =
        [
            "lm_head.weight", "model.embed_tokens.weight", "model.layers.2.mlp.experts.9.w1.weight",
            "model.layers.2.mlp.experts.10.w1.weight", "model.layers.2.mlp.gate.weight", "model.layers.10.input_layernorm.weight",
            "model.norm", "model.norm.weight",
        ];
        var shuffled = sorted.Reverse().ToList();
        shuffled.Sort(TensorOrder.Comparer);
        Assert.Equal(sorted, shuffled);
        Assert.Equal(10, TensorOrder.LayerOf("model.layers.10.x"));
        Assert.Null(TensorOrder.LayerOf("model.norm.weight"));
    }
}
