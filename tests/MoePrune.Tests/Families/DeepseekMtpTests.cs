using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Pruning.Selectors;
using MoePrune.Tests.IO;
using MoePrune.Tests.Models;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Families;

/// <summary>
/// MTP layers (<c>num_nextn_predict_layers</c>; fixture deepseek_v3_mtp_fp32: layer 2 is an MTP layer with the full
/// DeepSeek-V3 head, glm4_moe_air_rope_parameters_bf16: the smaller head): loaded strictly, and an export either prunes
/// them to the main layers' expert count (weight-only rule) or drops them with the key set to 0 — never inconsistent.
/// </summary>
public class DeepseekMtpTests(ITestOutputHelper output)
{
    const string V3 = "deepseek_v3_mtp_fp32", Glm = "glm4_moe_air_rope_parameters_bf16";

    [Theory]
    [InlineData(V3, MtpHeadLayout.Full, 6)]
    [InlineData(Glm, MtpHeadLayout.NormOnly, 4)]
    public void CheckpointWithMtpLayersLoadsStrictly(string name, MtpHeadLayout layout, int headTensors)
    {
        using var model = ModelLoader.Load(DeepseekFixtures.Dir(name));
        using var checkpoint = CheckpointDirectory.Open(DeepseekFixtures.Dir(name));
        int mtp = model.Config.NumHiddenLayers;
        var stored = checkpoint.Tensors.Keys.Where(k => TensorOrder.LayerOf(k) == mtp).Order().ToList();
        var held = model.Model.MtpLayers.Single().named_parameters().Select(p => $"model.layers.{mtp}.{p.name}").Order().ToList();
        output.WriteLine($"{name}: MTP layer {mtp} holds {held.Count} tensors ({layout}), {model.CountMtpParameters():N0} elements");
        Assert.Equal(layout, model.MtpLayout);
        Assert.Equal(stored, held);
        Assert.Equal(headTensors, held.Count(n => !n.Contains(".mlp.") && !n.Contains(".self_attn.") && !n.Contains("layernorm")));
        Assert.Equal(model.Config.NumHiddenLayers, model.Model.Layers.Count);              // the forward never runs it
    }

    [Fact]
    public void MissingUnexpectedOrUncountedMtpTensorsAreRefused()
    {
        using var tmp = new TempDir();
        using (var source = CheckpointTensorSource.Open(DeepseekFixtures.Dir(V3)))
        {
            var config = JsonFile.ReadObject(Path.Combine(DeepseekFixtures.Dir(V3), CheckpointDirectory.ConfigFile));
            Write(tmp["missing"], config, source, source.Tensors.Values.Where(t => t.Name != "model.layers.2.eh_proj.weight"));
            Write(tmp["half-head"], config, source, source.Tensors.Values.Where(t => t.Name != "model.layers.2.shared_head.head.weight"));
            config[MoeConfigParser.MtpLayersKey] = 0;
            Write(tmp["uncounted"], config, source, source.Tensors.Values);
        }
        foreach (var (dir, part) in new[] { ("missing", "1 missing (model.layers.2.eh_proj.weight)"),
                                            ("half-head", "1 missing (model.layers.2.shared_head.head.weight)"),
                                            ("uncounted", "MTP layers only as far as num_nextn_predict_layers = 0 says") })
        {
            var e = Assert.Throws<MoePruneException>(() => ModelLoader.Load(tmp[dir]));
            output.WriteLine($"{dir}: {e.Message}");
            Assert.Contains(part, e.Message);
        }
    }

    /// <summary>
    /// Pruning the main layers alone is refused before anything is written; with the MTP layer pruned to the same count
    /// by weight norm (group-balanced) the export reloads strictly with one expert count everywhere and the MTP head
    /// tensors byte-identical.
    /// </summary>
    [Fact]
    public void ExportPrunesTheMtpLayerToTheMainCountOrRefuses()
    {
        using var tmp = new TempDir();
        var expected = DeepseekFixtures.Expected(V3);
        var keep = DeepseekFixtures.PrunedKeep(expected);
        using var source = CheckpointTensorSource.Open(DeepseekFixtures.Dir(V3));

        var e = Assert.Throws<MoePruneException>(() =>
            ExpertSurgery.Export(source, ExpertPlan.Keep(keep), new SafetensorsCheckpointSink(tmp["main-only"], 1 << 30)));
        output.WriteLine(e.Message);
        Assert.Contains("MTP layer 2 would keep 8 experts while the other sparse layers keep 6", e.Message);
        Assert.False(Directory.Exists(tmp["main-only"]));

        var mtp = MtpExpertSelection.ByWeightNorm(source, 6);
        Assert.Equal([2], mtp.Keys);
        ExpertSurgery.Export(source, DeepseekFixtures.PrunedPlan(source, expected), new SafetensorsCheckpointSink(tmp["out"], 1 << 30));
        using var model = ModelLoader.Load(tmp["out"]);
        Assert.Equal(6, model.Config.NumExperts);
        Assert.Equal(6, model.Model.MtpLayers.Single().Moe!.NumExperts);
        using var written = CheckpointDirectory.Open(tmp["out"]);
        using var original = CheckpointDirectory.Open(DeepseekFixtures.Dir(V3));
        foreach (var head in new[] { "enorm", "hnorm", "eh_proj", "embed_tokens", "shared_head.norm", "shared_head.head" })
        {
            var name = $"model.layers.2.{head}.weight";
            Assert.Equal(0.0, ModelFixtures.MaxAbsDiff(original.Read(name), written.Read(name)));
        }
        output.WriteLine($"MTP layer 2 keeps [{string.Join(", ", mtp[2].Kept)}] by weight norm; main layer keeps [{string.Join(", ", keep[1])}]");
    }

    [Fact]
    public void DropMtpRemovesTheLayersAndZeroesTheKey()
    {
        using var tmp = new TempDir();
        var keep = DeepseekFixtures.PrunedKeep(DeepseekFixtures.Expected(V3));
        using var source = CheckpointTensorSource.Open(DeepseekFixtures.Dir(V3));
        var plan = ExpertPlan.Keep(keep);
        plan.DropMtpLayers = true;
        ExpertSurgery.Export(source, plan, new SafetensorsCheckpointSink(tmp["out"], 1 << 30));
        using var written = CheckpointDirectory.Open(tmp["out"]);
        Assert.DoesNotContain(written.Tensors.Keys, k => TensorOrder.LayerOf(k) == 2);
        Assert.Equal(0, (int)written.Config[MoeConfigParser.MtpLayersKey]!);
        Assert.Equal(6, (int)written.Config["n_routed_experts"]!);
        using var model = ModelLoader.Load(tmp["out"]);
        Assert.Empty(model.Model.MtpLayers);

        var named = ExpertPlan.Keep(new Dictionary<int, IReadOnlyList<int>> { [2] = [0, 1, 2, 4, 5, 6] });
        named.DropMtpLayers = true;
        Assert.Contains("layer 2 is an MTP layer, and the plan drops the MTP layers",
                        Assert.Throws<MoePruneException>(() => ExpertSurgery.Validate(source.Config, named, false)).Message);
    }

    /// <summary>The weight-only rule against norms computed here from the raw tensors: each group keeps its largest-norm experts.</summary>
    [Fact]
    public void MtpSelectionKeepsTheLargestWeightNormsOfEveryGroup()
    {
        using var scope = NewDisposeScope();
        using var checkpoint = CheckpointDirectory.Open(DeepseekFixtures.Dir(V3));
        using var source = CheckpointTensorSource.Open(DeepseekFixtures.Dir(V3));
        var norms = Enumerable.Range(0, 8).Select(e => Math.Sqrt(new[] { "gate_proj", "up_proj", "down_proj" }
            .Sum(p => checkpoint.Read($"model.layers.2.mlp.experts.{e}.{p}.weight").to(ScalarType.Float64).pow(2).sum().item<double>()))).ToArray();
        var kept = MtpExpertSelection.ByWeightNorm(source, 6)[2].Kept;
        var naive = new[] { 0, 4 }.SelectMany(g => Enumerable.Range(g, 4).OrderByDescending(e => norms[e]).Take(3)).Order().ToArray();
        output.WriteLine($"norms [{string.Join(", ", norms.Select(n => n.ToString("F3")))}] → keep [{string.Join(", ", kept)}]");
        Assert.Equal(naive, kept);
        Assert.Contains("multiple of 2", Assert.Throws<MoePruneException>(() => MtpExpertSelection.ByWeightNorm(source, 7)).Message);
    }

    static void Write(string dir, JsonObject config, ITensorSource source, IEnumerable<SourceTensor> tensors) =>
        CheckpointWriter.WriteOutputs(dir, config, tensors.Select(t => new OutputTensor(t.Name, t.Dtype, t.Shape, s => source.CopyBytes(t.Name, s))));
}
