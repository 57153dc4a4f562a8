using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Tests.IO;
using MoePrune.Tests.Models;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Families;

/// <summary>
/// Removal equals masking under group-limited routing: the group-balanced prune of each fixture (pruned.keep.i, one
/// expert per group) gives, by surgery, by masking the full model (<see cref="SparseMoeBlock.ExpertMask"/>, which also
/// takes the masked experts out of their group's score), and after export and reload, the logits and expert choices
/// the PyTorch reference computed by slicing the weights (pruned.logits, pruned.topk.i).
/// </summary>
public class DeepseekSurgeryTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new(DeepseekFixtures.PrunedCases);

    [Theory]
    [MemberData(nameof(Cases))]
    public void GroupBalancedPruneEqualsReferenceMaskingAndReload(string name)
    {
        using var scope = NewDisposeScope();
        using var tmp = new TempDir();
        using var full = ModelLoader.Load(DeepseekFixtures.Dir(name), ScalarType.Float32);
        var expected = DeepseekFixtures.Expected(name);
        var keep = DeepseekFixtures.PrunedKeep(expected);
        ExpertPlan plan;
        using (var source = new ModelTensorSource(full)) plan = DeepseekFixtures.PrunedPlan(source, expected);
        var ids = expected["input_ids"];
        using var noGrad = no_grad();

        using var pruned = ExpertSurgery.Apply(full, plan);
        Assert.Equal(full.Config.Groups.NGroup, pruned.Config.Groups.NGroup);
        Assert.Equal(keep.Values.First().Count, pruned.Config.NumExperts);
        var (surgical, surgicalChoice) = Run(pruned, ids);
        double toReference = ModelFixtures.MaxRelDiff(surgical, expected["pruned.logits"]);

        var blocks = full.Model.Layers.Select(l => l.Moe).OfType<SparseMoeBlock>().ToList();
        foreach (var block in blocks)
            block.ExpertMask = tensor(Enumerable.Range(0, block.NumExperts).Select(e => keep[block.LayerIndex].Contains(e)).ToArray()); // (E) bool
        var (masked, maskedChoice) = Run(full, ids);
        foreach (var block in blocks) block.ExpertMask = null;
        var (unpruned, _) = Run(full, ids);
        double maskedVsSurgical = ModelFixtures.MaxAbsDiff(masked, surgical);
        double effect = ModelFixtures.MaxAbsDiff(unpruned, surgical);

        ExpertSurgery.Export(full, plan, tmp["out"]);
        using var reloaded = ModelLoader.Load(tmp["out"], ScalarType.Float32);
        var (reloadedLogits, _) = Run(reloaded, ids);
        double reloadDiff = ModelFixtures.MaxAbsDiff(reloadedLogits, surgical);

        output.WriteLine($"{name}: E {full.Config.NumExperts} → {pruned.Config.NumExperts} in {full.Config.Groups.NGroup} groups; "
                         + $"max |Δ| pruned vs reference {toReference:E2} (rel), masked vs pruned {maskedVsSurgical:E2}, reloaded vs pruned "
                         + $"{reloadDiff:E2}; the removal moves logits by {effect:F3}");
        Assert.True(toReference <= 1e-4, $"pruned logits differ from the reference by {toReference:E2}");
        Assert.True(maskedVsSurgical <= 1e-5, $"masked and pruned logits differ by {maskedVsSurgical:E2}");
        Assert.Equal(0.0, reloadDiff);
        Assert.True(effect > 1e-3, "the removed experts must matter for the test to mean anything");
        foreach (var (layer, kept) in keep)
        {
            var reference = expected[$"pruned.topk.{layer}"];                           // (N, k) new numbering
            Assert.True(surgicalChoice[layer].equal(reference).all().item<bool>(), $"layer {layer}: pruned model chose other experts");
            var renumbered = maskedChoice[layer].data<long>().Select(e => (long)kept.ToList().IndexOf((int)e)).ToArray();
            Assert.Equal(reference.data<long>().ToArray(), renumbered);                  // masked choice = pruned choice
        }
        var config = JsonFile.ReadObject(Path.Combine(tmp["out"], CheckpointDirectory.ConfigFile));
        var original = JsonFile.ReadObject(Path.Combine(DeepseekFixtures.Dir(name), CheckpointDirectory.ConfigFile));
        Assert.Equal(pruned.Config.NumExperts, (int)config["n_routed_experts"]!);
        config["n_routed_experts"] = original["n_routed_experts"]!.DeepClone();
        config["torch_dtype"] = original["torch_dtype"]!.DeepClone();
        Assert.True(JsonNode.DeepEquals(original, config), "only the expert count (and the dtype of the fp32 load) may change");
    }

    /// <summary>
    /// A merged expert with no single original needs its own <c>e_score_correction_bias</c> entry (refused without one);
    /// given one, it lands in the pruned router's bias at the slot, beside the merged router row.
    /// </summary>
    [Fact]
    public void MergedSlotWithoutAnOriginalTakesItsOwnBiasEntry()
    {
        using var scope = NewDisposeScope();
        using var full = ModelLoader.Load(DeepseekFixtures.Dir("deepseek_v3_yarn_groups_fp32"), ScalarType.Float32);
        var keep = DeepseekFixtures.PrunedKeep(DeepseekFixtures.Expected("deepseek_v3_yarn_groups_fp32"));
        var block = full.Model.Layers[1].Moe!;
        int a = keep[1][0], b = keep[1][1];                                              // two experts of group 0
        Tensor Mean(Tensor x, Tensor y) => ((x + y) / 2).detach();
        var row = Mean(block.Router.Weight[a], block.Router.Weight[b]);                  // (H)
        var plan = ExpertPlan.Keep(keep);
        plan.Replace(1, 0, Mean(block.GateProj(a), block.GateProj(b)), Mean(block.UpProj(a), block.UpProj(b)),
                     Mean(block.DownProj(a), block.DownProj(b)), row, derivedFrom: ExpertSlot.NoOriginal);
        var e = Assert.Throws<MoePruneException>(() => ExpertSurgery.Validate(full.Config, plan, false));
        Assert.Contains("has no row for router tensor(s) gate.e_score_correction_bias", e.Message);

        var withBias = ExpertPlan.Keep(keep);
        var bias = tensor(0.125f);
        withBias.Replace(1, 0, Mean(block.GateProj(a), block.GateProj(b)), Mean(block.UpProj(a), block.UpProj(b)),
                         Mean(block.DownProj(a), block.DownProj(b)), row, derivedFrom: ExpertSlot.NoOriginal, scoreCorrectionBias: bias);
        using var merged = ExpertSurgery.Apply(full, withBias);
        var router = merged.Model.Layers[1].Moe!.Router;
        Assert.Equal(0.125f, router.ScoreCorrectionBias![0].item<float>());
        Assert.Equal(block.Router.ScoreCorrectionBias![keep[1][1]].item<float>(), router.ScoreCorrectionBias[1].item<float>());
        Assert.Equal(0.0, ModelFixtures.MaxAbsDiff(router.Weight[0], row));
        output.WriteLine($"merged slot 0 of layer 1: bias {router.ScoreCorrectionBias[0].item<float>()}, refused without: {e.Message}");
    }

    /// <summary>Logits (B, T, V) and each MoE layer's chosen experts (N, k).</summary>
    static (Tensor Logits, Dictionary<int, Tensor> Choice) Run(MoeForCausalLM model, Tensor ids)
    {
        using var recorder = new RoutingRecorder();
        model.Observers.Add(recorder);
        try
        {
            var logits = model.Logits(ids);
            return (logits, recorder.Layers.ToDictionary(kv => kv.Key, kv => kv.Value.Indices.clone()));
        }
        finally
        {
            model.Observers.Remove(recorder);
        }
    }
}
