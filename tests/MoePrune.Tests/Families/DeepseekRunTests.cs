using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.IO;
using MoePrune.Jobs;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Tests.IO;
using MoePrune.Tests.Models;
using MoePrune.Tests.Pruning;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Families;

/// <summary>
/// Iterative rounds on a tiny DeepSeek-V3 (2 routing groups, one MTP layer, block FP8): every round removes one expert
/// from each group, the MTP layer follows at each count, and a run stopped after round 1 resumes (rebuilding the model
/// from the original through the lineage, MTP layer included) to the same bytes; the export equals the original with the
/// removed experts masked, and the MTP layer keeps the experts of largest weight norm per group (computed here).
/// </summary>
public class DeepseekRunTests(ITestOutputHelper output)
{
    static RoundSpec[] Rounds(bool dropMtp) => Enumerable.Range(0, 2).Select(k => new RoundSpec
    {
        Criterion = CriterionSpec.Parse("max-ews"), Selection = new SelectionRequest { Drop = 2 }, DropMtp = dropMtp && k == 0,
    }).ToArray();

    static int[] Ints(JsonNode? node) => node!.AsArray().Select(v => (int)v!).ToArray();

    [Fact]
    public void GroupBalancedRoundsKeepTheMtpLayerConsistentAndResume()
    {
        using var scope = NewDisposeScope();
        using var tmp = new TempDir();
        string model = tmp["m"];
        TinyCheckpoint.Write("deepseek_v3", model, seed: 5, ScalarType.BFloat16, new TinyVariant { Groups = 2, MtpLayers = 1, Fp8 = true });
        PruneRun.Run(new PruneRunRequest { ModelDir = model, Rounds = Rounds(false), OutDir = tmp["a"], WorkDir = tmp["wa"] });
        PruneRun.Run(new PruneRunRequest { ModelDir = model, Rounds = Rounds(false), OutDir = tmp["b"], WorkDir = tmp["wb"] });
        File.Delete(Path.Combine(tmp["wb"], "round-2", RunFolder.RecordFile));                  // stopped during round 2
        Directory.Delete(tmp["b"], recursive: true);
        PruneRun.Run(new PruneRunRequest { ModelDir = model, Rounds = Rounds(false), OutDir = tmp["b"], WorkDir = tmp["wb"], Resume = true });
        foreach (var file in Directory.GetFiles(tmp["a"], "*.safetensors").Select(Path.GetFileName))
            Assert.Equal(File.ReadAllBytes(Path.Combine(tmp["a"], file!)), File.ReadAllBytes(Path.Combine(tmp["b"], file!)));

        var record = JsonFile.ReadObject(Path.Combine(tmp["a"], "pruning.json"));
        using var full = ModelLoader.Load(model, ScalarType.Float32);
        using var pruned = ModelLoader.Load(tmp["a"], ScalarType.Float32);
        var removed = record["layers"]!.AsObject().ToDictionary(kv => int.Parse(kv.Key), kv => (IReadOnlyList<int>)Ints(kv.Value!["removed"]));
        Assert.All(removed.Values, r => Assert.Equal([2, 2], new[] { r.Count(e => e < 4), r.Count(e => e >= 4) }));
        foreach (var round in record["rounds"]!.AsArray())                                 // each round: one from each group
            Assert.All(round!["layers"]!.AsObject(), kv => Assert.Equal(1, Ints(kv.Value!["removed"]).Count(e => e < 4)));

        var mtp = full.Model.MtpLayers.Single().Moe!;
        var norms = Enumerable.Range(0, 8).Select(e => Math.Sqrt(new[] { mtp.GateProj(e), mtp.UpProj(e), mtp.DownProj(e) }
            .Sum(w => w.to(ScalarType.Float64).pow(2).sum().item<double>()))).ToArray();
        var naive = new[] { 0, 4 }.SelectMany(g => Enumerable.Range(g, 4).OrderByDescending(e => norms[e]).Take(2)).Order().ToArray();
        Assert.Equal(naive, Ints(record["mtp"]!["layers"]!["2"]!["kept"]));
        var written = pruned.Model.MtpLayers.Single().Moe!;
        Assert.Equal(4, written.NumExperts);
        for (int slot = 0; slot < 4; slot++)
            Assert.Equal(0.0, ModelFixtures.MaxAbsDiff(written.DownProj(slot), mtp.DownProj(naive[slot])));

        var (ids, mask) = SurgerySupport.PaddedBatch(3, 256);
        using var noGrad = no_grad();
        var expected = SurgerySupport.MaskedReference(full, removed, ids, mask);          // (N, V)
        var actual = SurgerySupport.RealRows(pruned.Logits(ids, mask), mask);             // (N, V)
        double diff = ModelFixtures.MaxAbsDiff(actual, expected);
        output.WriteLine($"2 rounds of max-ews, one expert per group each: removed {string.Join("; ", removed.Select(kv => $"layer {kv.Key} [{string.Join(",", kv.Value)}]"))}; "
                         + $"MTP keeps [{string.Join(",", naive)}]; max |Δ logits| export vs masked original {diff:E2}; resumed run byte-identical");
        Assert.True(diff <= 1e-5, $"max difference {diff:E2}");
    }

    /// <summary>A group-balanced round on an FP8 model with an MTP layer (kept by weight norm, or dropped) leaves no live tensors.</summary>
    [Fact]
    public void AGroupBalancedMtpRoundLeavesNoTensorsBehind()
    {
        using var tmp = new TempDir();
        TinyCheckpoint.Write("deepseek_v3", tmp["m"], seed: 1, ScalarType.BFloat16, new TinyVariant { Groups = 2, MtpLayers = 1, Fp8 = true });
        using var model = ModelLoader.Load(tmp["m"]);
        var input = new RoundInput(1, model, ExpertLineage.Identity(model.MoeLayers), tmp["m"]);
        var keep = Rounds(false)[0];
        var drop = Rounds(true)[0];
        using (PruneRound.Run(input, keep)) { }                                          // warm-up (lazy native state)
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var round = PruneRound.Run(input, keep))
            Assert.Equal(6, round.Model.Model.MtpLayers.Single().Moe!.NumExperts);      // built: the MTP layer pruned with the others
        using (var round = PruneRound.Run(input, drop))
            Assert.Empty(round.Model.Model.MtpLayers);
        using (var round = PruneRound.Run(input, keep))
            Assert.False(round.IsBuilt);
        long after = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        output.WriteLine($"live tensors before {before}, after {after}");
        Assert.Equal(before, after);
    }

    /// <summary>Dropping the MTP layers in round 1 leaves later rounds without them (not refused), and the export has none.</summary>
    [Fact]
    public void MtpLayersDroppedInTheFirstRoundStayDropped()
    {
        using var tmp = new TempDir();
        TinyCheckpoint.Write("glm4_moe", tmp["m"], seed: 2, variant: new TinyVariant { Groups = 2, MtpLayers = 1 });
        PruneRun.Run(new PruneRunRequest { ModelDir = tmp["m"], Rounds = Rounds(true), OutDir = tmp["out"] });
        var record = JsonFile.ReadObject(Path.Combine(tmp["out"], "pruning.json"));
        Assert.Equal("dropped", (string)record["mtp"]!["rule"]!);
        using var checkpoint = CheckpointDirectory.Open(tmp["out"]);
        Assert.Equal(0, (int)checkpoint.Config["num_nextn_predict_layers"]!);
        Assert.Equal(4, (int)checkpoint.Config["n_routed_experts"]!);
        Assert.DoesNotContain(checkpoint.Tensors.Keys, k => TensorOrder.LayerOf(k) >= 2);
        output.WriteLine($"pruning.json mtp: {record["mtp"]!.ToJsonString()}");
    }
}
