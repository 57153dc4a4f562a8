using System.Text.Json.Nodes;
using MoePrune.Models;
using MoePrune.Pruning;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Models;

/// <summary>
/// <see cref="SparseMoeBlock.ExpertMask"/> as virtual pruning: the full model with some experts masked computes
/// the logits of the model those experts were removed from by surgery (<see cref="ExpertSurgery.Apply"/>).
/// </summary>
public class VirtualPruningTests(ITestOutputHelper output)
{
    public static TheoryData<string> Families => new(TinyCheckpoint.Families);

    [Theory]
    [MemberData(nameof(Families))]
    public void MaskedModelEqualsSurgicallyPrunedModel(string family)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var json = TinyCheckpoint.Config(family, hidden: 32, layers: 3, experts: 8, topK: 2, expertSize: 24, vocab: 64);
        if (family == "qwen2_moe") json["mlp_only_layers"] = new JsonArray(0);
        using var full = TinyCheckpoint.Random(json, seed: 11);
        // A different set per sparse layer, 3 of 8 removed each.
        var removed = full.MoeLayers.ToDictionary(l => l.LayerIndex, l => (IReadOnlyList<int>)new[] { l.LayerIndex % 8, 3, (l.LayerIndex + 5) % 8 }.Distinct().ToArray());
        var kept = full.MoeLayers.ToDictionary(l => l.LayerIndex,
            l => (IReadOnlyList<int>)Enumerable.Range(0, l.NumExperts).Where(e => !removed[l.LayerIndex].Contains(e)).ToArray());
        using var pruned = ExpertSurgery.Apply(full, ExpertPlan.Keep(kept), allowNonUniform: true);

        var ids = randint(0, 64, [3, 10], dtype: ScalarType.Int64, generator: new Generator(12)); // (B, T)
        var mask = ones(3, 10, ScalarType.Int64);                                        // (B, T)
        mask[1, TensorIndex.Slice(6)].fill_(0);                                          // right padding in one row
        var blocks = full.Model.Layers.Where(l => l.Moe is not null).Select(l => l.Moe!).ToList();
        foreach (var block in blocks)
            block.ExpertMask = tensor(Enumerable.Range(0, block.NumExperts).Select(e => kept[block.LayerIndex].Contains(e)).ToArray()); // (E) bool
        var masked = full.Logits(ids, mask);                                             // (B, T, V)
        foreach (var block in blocks) block.ExpertMask = null;
        var unmasked = full.Logits(ids, mask);                                           // (B, T, V)
        var surgical = pruned.Logits(ids, mask);                                         // (B, T, V)

        var real = mask.reshape(-1).nonzero().reshape(-1);                               // (N)
        double diff = ModelFixtures.MaxAbsDiff(masked.reshape(30, -1).index_select(0, real), surgical.reshape(30, -1).index_select(0, real));
        double effect = ModelFixtures.MaxAbsDiff(unmasked, surgical);
        output.WriteLine($"{family}: max |masked − pruned| = {diff:E2}; the removal itself moves logits by up to {effect:F3}");
        Assert.True(diff < 1e-5, $"masked and pruned logits differ by {diff:E2}");
        Assert.True(effect > 1e-3, "the removed experts must matter for the test to mean anything");
    }
}
