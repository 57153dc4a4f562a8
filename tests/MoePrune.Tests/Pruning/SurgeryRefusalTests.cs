using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Pruning;

/// <summary>Every refusal happens before anything is written; the non-portable export round-trips; custom experts land in their slots.</summary>
public class SurgeryRefusalTests(ITestOutputHelper output)
{
    private static Dictionary<int, IReadOnlyList<int>> Layers(params (int Layer, int[] Experts)[] items) =>
        items.ToDictionary(i => i.Layer, i => (IReadOnlyList<int>)i.Experts);

    public static TheoryData<string, string, string> Refusals() => new()
    {
        // family, case, expected message fragment
        { "mixtral", "topk", "fewer than num_experts_per_tok" },
        { "qwen2_moe", "dense", "layer 0 is a dense layer" },
        { "qwen2_moe", "shared", "shared expert cannot be removed" },
        { "olmoe", "unequal", "expert counts differ across layers" },
        { "qwen3_moe", "missing", "do not exist" },
        { "qwen3_moe", "layer", "layer 9 does not exist" },
        { "olmoe", "shape", "down_proj has shape" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void RefusesBeforeWritingAnything(string family, string kind, string fragment)
    {
        using var scope = NewDisposeScope();
        using var model = TinyCheckpoint.Random(SurgerySupport.Config(family), seed: 1);
        var plan = kind switch
        {
            "topk" => ExpertPlan.Keep(Layers((0, [3]), (1, [4]), (2, [5]))),
            "dense" => ExpertPlan.Remove(Layers((0, [1]), (1, [1]), (2, [1]))),
            "shared" => ExpertPlan.Remove(Layers((1, [ExpertPlan.SharedExpert]), (2, [0]))),
            "unequal" => ExpertPlan.Remove(Layers((0, [1]), (1, [1, 2]), (2, [3]))),
            "missing" => ExpertPlan.Remove(Layers((0, [8]), (1, [1]), (2, [1]))),
            "layer" => ExpertPlan.Remove(Layers((9, [1]))),
            _ => ShapePlan(),
        };
        string parent = SurgerySupport.FreshParent();
        try
        {
            string outDir = Path.Combine(parent, "out");
            var e = Assert.Throws<MoePruneException>(() => ExpertSurgery.Export(model, plan, outDir));
            output.WriteLine($"{family}/{kind}: {e.Message}");
            Assert.Contains(fragment, e.Message);
            Assert.DoesNotContain('\n', e.Message);
            Assert.Throws<MoePruneException>(() => ExpertSurgery.Apply(model, plan));
            Assert.False(Directory.Exists(outDir), "the output directory must not be created");
            Assert.Empty(Directory.EnumerateFileSystemEntries(parent));                  // no temp directories
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    private static ExpertPlan ShapePlan()
    {
        var plan = ExpertPlan.Remove(Layers((0, [1]), (1, [1]), (2, [1])));
        plan.Replace(1, 0, zeros(24, 32), zeros(24, 32), zeros(24, 32), zeros(32));    // down must be (32, 24)
        return plan;
    }

    [Fact]
    public void NonPortableExportRecordsPerLayerCountsAndRoundTrips()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var full = TinyCheckpoint.Random(SurgerySupport.Config("qwen2_moe"), seed: 3);   // layer 0 dense
        var removed = Layers((1, [2]), (2, [0, 4, 7]));
        var plan = ExpertPlan.Remove(removed);
        var (ids, mask) = SurgerySupport.PaddedBatch(seed: 8);
        var reference = SurgerySupport.MaskedReference(full, removed, ids, mask);        // (N, V)
        string parent = SurgerySupport.FreshParent();
        try
        {
            string outDir = Path.Combine(parent, "out");
            ExpertSurgery.Export(full, plan, outDir, allowNonUniform: true);
            var json = JsonFile.ReadObject(Path.Combine(outDir, CheckpointDirectory.ConfigFile));
            var perLayer = json[MoeConfigParser.ExpertsPerLayerKey]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
            Assert.Equal([0, 7, 5], perLayer);
            Assert.Equal(7, json["num_experts"]!.GetValue<int>());
            Assert.Equal(["moeprune_experts_per_layer", "num_experts"], SurgerySupport.DifferingKeys(full.Config.Source, json));
            using var loaded = ModelLoader.Load(outDir);
            Assert.Equal([7, 5], loaded.MoeLayers.Select(l => l.NumExperts));
            double diff = ModelFixtures.MaxRelDiff(SurgerySupport.RealRows(loaded.Logits(ids, mask), mask), reference);
            output.WriteLine($"non-portable round trip: max rel diff vs masked reference {diff:E2}");
            Assert.True(diff <= 1e-4);
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    [Fact]
    public void ReplacedSlotsHoldTheGivenExpertAndRouterRow()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var full = TinyCheckpoint.Random(SurgerySupport.Config("mixtral"), seed: 9);
        var plan = ExpertPlan.Keep(Layers((0, [0, 2, 4, 6]), (1, [1, 3, 5, 7]), (2, [0, 1, 2, 3])));
        // Merge experts 2 and 4 of layer 0 into slot 1 (their average); the router row is the sum of theirs.
        var l0 = full.MoeLayers[0];
        var gate = (l0.GateProj(2) + l0.GateProj(4)) / 2;                               // (I, H)
        var up = (l0.UpProj(2) + l0.UpProj(4)) / 2;                                     // (I, H)
        var down = (l0.DownProj(2) + l0.DownProj(4)) / 2;                               // (H, I)
        var row = (l0.RouterWeight[2] + l0.RouterWeight[4]).to(ScalarType.Float64);     // (H), other dtype on purpose
        plan.Replace(0, 1, gate, up, down, row);

        using var applied = ExpertSurgery.Apply(full, plan);
        string parent = SurgerySupport.FreshParent();
        try
        {
            ExpertSurgery.Export(full, plan, Path.Combine(parent, "out"));
            using var loaded = ModelLoader.Load(Path.Combine(parent, "out"));
            foreach (var m in new[] { applied, loaded })
            {
                var v = m.MoeLayers[0];
                Assert.True(v.GateProj(1).equal(gate).all().item<bool>());
                Assert.True(v.UpProj(1).equal(up).all().item<bool>());
                Assert.True(v.DownProj(1).equal(down).all().item<bool>());
                Assert.Equal(0.0, ModelFixtures.MaxAbsDiff(v.RouterWeight[1], row));
                Assert.True(v.GateProj(0).equal(l0.GateProj(0)).all().item<bool>());   // neighbours untouched
                Assert.True(v.RouterWeight[2].equal(l0.RouterWeight[4]).all().item<bool>());
                Assert.True(v.GateProj(3).equal(l0.GateProj(6)).all().item<bool>());
            }
            Assert.Equal(4, loaded.Config.NumExperts);
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
        Assert.Throws<MoePruneException>(() => plan.Replace(0, 1, gate, up, down, row)); // slot replaced twice
    }
}
