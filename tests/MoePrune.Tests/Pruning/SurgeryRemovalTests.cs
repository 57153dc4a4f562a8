using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Pruning;

/// <summary>
/// Expert removal against an independent reference: the full model whose removed experts' router logits are
/// −inf. Checked in memory (Apply) and after an export → load round trip, for every family.
/// </summary>
public class SurgeryRemovalTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("mixtral")]
    [InlineData("qwen2_moe")]
    [InlineData("qwen3_moe")]
    [InlineData("olmoe")]
    public void RemovalEqualsMaskedRoutingBeforeAndAfterExport(string family)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var full = TinyCheckpoint.Random(SurgerySupport.Config(family), seed: 11);
        // Different experts per layer, same count (2 of 8) so the export stays portable.
        var removed = full.Config.MoeLayerIndices.ToDictionary(l => l, l => (IReadOnlyList<int>)new[] { l % 8, (3 * l + 5) % 8 });
        var plan = ExpertPlan.Remove(removed);
        var (ids, mask) = SurgerySupport.PaddedBatch(seed: 2);
        var reference = SurgerySupport.MaskedReference(full, removed, ids, mask);        // (N, V)
        var unmasked = SurgerySupport.RealRows(full.Logits(ids, mask), mask);           // (N, V)
        Assert.True(ModelFixtures.MaxAbsDiff(reference, unmasked) > 1e-3, "the removed experts must matter for this batch");

        using var pruned = ExpertSurgery.Apply(full, plan);
        Assert.All(pruned.MoeLayers, l => Assert.Equal(6, l.NumExperts));
        double inMemory = ModelFixtures.MaxRelDiff(SurgerySupport.RealRows(pruned.Logits(ids, mask), mask), reference);

        string parent = SurgerySupport.FreshParent();
        try
        {
            string outDir = Path.Combine(parent, "pruned");
            ExpertSurgery.Export(full, plan, outDir, maxShardBytes: 60_000);
            Assert.True(File.Exists(Path.Combine(outDir, CheckpointDirectory.IndexFile)), "small shards give a sharded export");
            using var loaded = ModelLoader.Load(outDir);
            double roundTrip = ModelFixtures.MaxRelDiff(SurgerySupport.RealRows(loaded.Logits(ids, mask), mask), reference);
            output.WriteLine($"{family}: max rel diff vs masked reference: in memory {inMemory:E2}, after export/load {roundTrip:E2}");
            Assert.True(inMemory <= 1e-4, $"in memory {inMemory:E2}");
            Assert.True(roundTrip <= 1e-4, $"after export {roundTrip:E2}");

            var exported = JsonFile.ReadObject(Path.Combine(outDir, CheckpointDirectory.ConfigFile));
            var differing = SurgerySupport.DifferingKeys(full.Config.Source, exported);
            output.WriteLine($"{family}: config keys that differ: {string.Join(", ", differing)}");
            Assert.Equal([full.Config.Family.ExpertCountKey], differing);
            Assert.Equal(6, exported[full.Config.Family.ExpertCountKey]!.GetValue<int>());
            AssertUntouchedTensorsEqual(full, loaded);
            AssertExpertsRenumberedInOrder(full, loaded, removed);
            Assert.Single(Directory.EnumerateFileSystemEntries(parent));                 // no temp dirs left
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    [Fact]
    public void KeepPlanEqualsRemovePlanAndExtraFilesLandInTheExport()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var full = TinyCheckpoint.Random(SurgerySupport.Config("olmoe"), seed: 5);
        var keep = ExpertPlan.Keep(new Dictionary<int, IReadOnlyList<int>> { [0] = [7, 0, 2, 5], [1] = [1, 2, 3, 4], [2] = [0, 1, 6, 7] });
        var remove = ExpertPlan.Remove(new Dictionary<int, IReadOnlyList<int>> { [0] = [1, 3, 4, 6], [1] = [0, 5, 6, 7], [2] = [2, 3, 4, 5] });
        using var a = ExpertSurgery.Apply(full, keep);
        using var b = ExpertSurgery.Apply(full, remove);
        var (ids, mask) = SurgerySupport.PaddedBatch(seed: 4);
        Assert.Equal(0.0, ModelFixtures.MaxAbsDiff(a.Logits(ids, mask), b.Logits(ids, mask)));

        string parent = SurgerySupport.FreshParent();
        try
        {
            string outDir = Path.Combine(parent, "out");
            var extra = new Dictionary<string, JsonNode> { ["pruning.json"] = new JsonObject { ["criterion"] = "frequency" } };
            ExpertSurgery.Export(full, keep, outDir, extraFiles: extra);
            Assert.Equal("frequency", JsonFile.ReadObject(Path.Combine(outDir, "pruning.json"))["criterion"]!.GetValue<string>());
            Assert.Throws<MoePruneException>(() => ExpertSurgery.Export(full, keep, Path.Combine(parent, "bad"),
                extraFiles: new Dictionary<string, JsonNode> { ["config.json"] = new JsonObject() }));
            Assert.False(Directory.Exists(Path.Combine(parent, "bad")));
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    /// <summary>Every tensor outside the routed experts and routers (attention, norms, embeddings, shared expert, dense MLPs) is bit-identical.</summary>
    private void AssertUntouchedTensorsEqual(MoeForCausalLM full, MoeForCausalLM loaded)
    {
        var after = loaded.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        int count = 0;
        foreach (var (name, p) in full.named_parameters())
        {
            if (name.Contains(".experts.") || name.EndsWith($"{full.Config.Family.MoeModuleName}.gate.weight")) continue;
            Assert.True(p.equal(after[name]).all().item<bool>(), $"{name} changed");
            count++;
        }
        output.WriteLine($"{count} untouched tensors identical");
    }

    /// <summary>New expert s of layer l is the s-th surviving original expert; the router row likewise.</summary>
    private static void AssertExpertsRenumberedInOrder(MoeForCausalLM full, MoeForCausalLM loaded, Dictionary<int, IReadOnlyList<int>> removed)
    {
        foreach (var (before, after) in full.MoeLayers.Zip(loaded.MoeLayers))
        {
            var kept = Enumerable.Range(0, before.NumExperts).Except(removed[before.LayerIndex]).ToArray();
            for (int s = 0; s < kept.Length; s++)
            {
                Assert.True(before.GateProj(kept[s]).equal(after.GateProj(s)).all().item<bool>());
                Assert.True(before.UpProj(kept[s]).equal(after.UpProj(s)).all().item<bool>());
                Assert.True(before.DownProj(kept[s]).equal(after.DownProj(s)).all().item<bool>());
                Assert.True(before.RouterWeight[kept[s]].equal(after.RouterWeight[s]).all().item<bool>());
            }
        }
    }
}
