using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Tests.IO;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Models;

/// <summary>Strict loading (missing / unexpected / misshapen tensors) and the per-expert export.</summary>
public class LoadingTests(ITestOutputHelper output)
{
    /// <summary>Copies a fixture checkpoint's config and tensors, letting the test edit both.</summary>
    static void Rewrite(string fixture, string outDir, Func<JsonObject, JsonObject>? config = null,
                        Func<IEnumerable<KeyValuePair<string, Tensor>>, IEnumerable<KeyValuePair<string, Tensor>>>? tensors = null)
    {
        using var source = CheckpointDirectory.Open(ModelFixtures.Dir(fixture));
        var all = source.Tensors.Keys.Order(StringComparer.Ordinal).Select(k => new KeyValuePair<string, Tensor>(k, source.Read(k))).ToList();
        var cfg = (JsonObject)source.Config.DeepClone();
        CheckpointWriter.Write(outDir, config?.Invoke(cfg) ?? cfg, tensors?.Invoke(all) ?? all);
    }

    [Fact]
    public void MissingAndUnexpectedTensorsAreOneErrorWithCounts()
    {
        using var tmp = new TempDir();
        var dir = tmp["ckpt"];
        Rewrite("olmoe_clip_fp32", dir, tensors: all => all
            .Where(kv => !kv.Key.Contains("experts.3.") && kv.Key != "model.norm.weight")
            .Append(new("model.layers.0.mlp.experts.9.up_proj.weight", zeros(24, 32))));
        var e = Assert.Throws<MoePruneException>(() => ModelLoader.Load(dir));
        output.WriteLine(e.Message);
        Assert.Contains("7 missing", e.Message);                     // 2 layers × 3 projections + model.norm
        Assert.Contains("1 unexpected (model.layers.0.mlp.experts.9.up_proj.weight)", e.Message);
        Assert.Contains("model.layers.0.mlp.experts.3.", e.Message);
        Assert.Equal(8, e.Details.Count);
    }

    [Fact]
    public void WrongShapesAreNamed()
    {
        using var tmp = new TempDir();
        var dir = tmp["ckpt"];
        Rewrite("qwen3_moe_rope_parameters_fused", dir, tensors: all => all.Select(kv =>
            kv.Key == "model.layers.1.mlp.experts.down_proj" ? new(kv.Key, zeros(8, 32, 20)) : kv));
        var e = Assert.Throws<MoePruneException>(() => ModelLoader.Load(dir));
        output.WriteLine(e.Message);
        Assert.Contains("model.layers.1.mlp.experts.down_proj [8, 32, 20], expected [8, 32, 24]", e.Message);
    }

    [Fact]
    public void ExpertsStoredBothPerExpertAndFusedAreAnError()
    {
        using var tmp = new TempDir();
        var dir = tmp["ckpt"];
        Rewrite("qwen3_moe_rope_parameters_fused", dir, tensors: all => all
            .Append(new("model.layers.0.mlp.experts.2.gate_proj.weight", zeros(24, 32))));
        var e = Assert.Throws<MoePruneException>(() => ModelLoader.Load(dir));
        output.WriteLine(e.Message);
        Assert.Contains("1 parameters are stored twice", e.Message);
        Assert.Contains("model.layers.0.mlp.experts.2.gate_proj.weight", e.Message);
    }

    [Fact]
    public void ConfigErrorsNameConfigJson()
    {
        using var tmp = new TempDir();
        var dir = tmp["ckpt"];
        Rewrite("mixtral_fp32", dir, config: c => { c["model_type"] = "gpt2"; return c; });
        var e = Assert.Throws<MoePruneException>(() => ModelLoader.Load(dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("gpt2", e.Message);
    }

    [Theory]
    [InlineData("mixtral_window_fused_sharded")]
    [InlineData("qwen3_moe_rope_parameters_fused")]
    [InlineData("qwen2_moe_dense_tied_sharded")]
    [InlineData("olmoe_bf16")]
    public void ExportWritesPerExpertNamesAndReloadsToTheSameLogits(string name)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var tmp = new TempDir();
        using var model = ModelLoader.Load(ModelFixtures.Dir(name));
        ModelLoader.Save(model, tmp["out"], maxShardBytes: 200_000);

        using (var written = CheckpointDirectory.Open(tmp["out"]))
        {
            Assert.DoesNotContain(written.Tensors.Keys, k => k.EndsWith("gate_up_proj") || k.EndsWith("experts.down_proj"));
            Assert.Equal(model.named_parameters().Select(p => p.name).Order(), written.Tensors.Keys.Order());
            Assert.All(written.Tensors.Values, t => Assert.Equal(SafeDtypes.FromTorch(model.Dtype), t.Dtype));
            var original = JsonFile.ReadObject(Path.Combine(ModelFixtures.Dir(name), "config.json"));
            Assert.True(JsonNode.DeepEquals(original, written.Config), written.Config.ToJsonString());
            output.WriteLine($"{name}: {written.Tensors.Count} tensors in {written.ShardFiles.Count} shards");
        }
        using var reloaded = ModelLoader.Load(tmp["out"]);
        var ids = ModelFixtures.Expected(name)["input_ids"];
        double diff = ModelFixtures.MaxAbsDiff(model.Logits(ids), reloaded.Logits(ids));
        Assert.Equal(0.0, diff);
    }

    [Fact]
    public void TinyCheckpointOfEveryFamilyLoadsAndRuns()
    {
        using var scope = NewDisposeScope();
        using var tmp = new TempDir();
        foreach (var family in TinyCheckpoint.Families)
        {
            var config = TinyCheckpoint.Write(family, tmp[family], seed: 1, dtype: ScalarType.BFloat16);
            using var model = ModelLoader.Load(tmp[family]);
            Assert.Equal(ScalarType.BFloat16, model.Dtype);
            using var noGrad = no_grad();
            var logits = model.Logits(tensor(new long[,] { { 1, 2, 3, 4 } }));
            Assert.Equal(new long[] { 1, 4, config.VocabSize }, logits.shape);
            Assert.False(logits.isnan().any().item<bool>());
        }
    }
}
