using System.Text.Json.Nodes;
using MoePrune.Models;
using MoePrune.Tests.IO;
using MoePrune.Tests.Models;
using MoePrune.Tests.Pruning;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Jobs;

/// <summary>
/// <c>merge</c> on the DeepSeek/GLM families: shared experts and dense layers pass through, a merged expert's
/// <c>e_score_correction_bias</c> entry is Σ α·b like its router row; what merging does not handle (the learned merge
/// under a score-correction bias) is refused in one line with nothing written. Group-limited routing, MTP layers and
/// FP8: <see cref="MergeGroupLimitedTests"/>.
/// </summary>
[Collection(MoePrune.Tests.Cli.ConsoleCollection.Name)]
public class MergeFamilyTests(ITestOutputHelper output)
{
    public static TheoryData<string> Families => new() { "deepseek_v2", "deepseek_v3", "kimi_k2", "glm4_moe" };

    static string WriteModel(string dir, string family, Action<JsonObject>? edit = null)
    {
        var json = TinyCheckpoint.Config(family, hidden: 32, layers: 3, experts: 8, topK: 2, expertSize: 24, vocab: JobSupport.Vocab);
        edit?.Invoke(json);
        using var model = TinyCheckpoint.Random(json, seed: 31);
        ModelLoader.Save(model, dir);
        return dir;
    }

    static string[] Calibration(TempDir tmp) =>
        ["--calib", $"tokens:{JobSupport.WriteTokens(tmp["calib.txt"], 40, seed: 4)}", "--calib-sequences", "6", "--calib-seq-len", "12"];

    [Theory]
    [MemberData(nameof(Families))]
    public void FrequencyMergeEqualsTheModelAveragedHereWithSharedExpertsAndBiasEntries(string family)
    {
        using var tmp = new TempDir();
        var modelDir = WriteModel(tmp["m"], family);
        Assert.Equal(0, JobSupport.Cli(["merge", modelDir, "--similarity", "cka", "--merge", "frequency", "--groups", "4", .. Calibration(tmp), "--out", tmp["x"], "--json"]));
        var layers = MergeSupport.Layers(MergeSupport.Record(tmp["x"])["rounds"]![0]!);
        using var full = ModelLoader.Load(modelDir);
        using var merged = ModelLoader.Load(tmp["x"]);
        Assert.Equal(full.MoeLayers.Select(v => v.LayerIndex), layers.Keys.Order());
        Assert.All(merged.MoeLayers, v => Assert.Equal(4, v.NumExperts));
        Assert.Contains(layers.Values, l => l.Groups.Any(g => g.Length > 1));

        using var reference = MergeSupport.Weighted(full, 4, layers);                          // Σ α over each group, here
        using var noGrad = no_grad();
        var mergedParams = merged.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        double maxParam = 0;
        int shared = 0, biases = 0;
        foreach (var (name, p) in reference.named_parameters())
        {
            maxParam = Math.Max(maxParam, (mergedParams[name] - p).abs().max().item<float>());
            if (name.Contains("shared_expert")) shared++;
            if (name.EndsWith(Router.ScoreCorrectionBiasName, StringComparison.Ordinal)) biases++;
        }
        var sourceParams = full.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        double sharedDiff = mergedParams.Where(kv => kv.Key.Contains("shared_expert"))
            .Select(kv => (kv.Value - sourceParams[kv.Key]).abs().max().item<float>()).DefaultIfEmpty(0).Max();
        var (ids, mask) = SurgerySupport.PaddedBatch(7, JobSupport.Vocab);
        var x = SurgerySupport.RealRows(merged.Logits(ids, mask), mask);                       // (N, V)
        var y = SurgerySupport.RealRows(reference.Logits(ids, mask), mask);                    // (N, V)
        double logits = (x - y).abs().max().item<float>();
        output.WriteLine($"{family}: {shared} shared-expert tensors, {biases} bias vectors; max |param diff| {maxParam:E2}, "
                         + $"shared experts vs source {sharedDiff:E2}, max |logit diff| {logits:E2}");
        Assert.True(shared > 0, "the family has shared experts");
        Assert.Equal(family is "deepseek_v2" ? 0 : merged.MoeLayers.Count, biases);
        Assert.True(maxParam < 1e-6 && sharedDiff == 0 && logits < 1e-5);
    }

    [Fact]
    public void WhatMergingDoesNotHandleIsRefusedInOneLine()
    {
        using var tmp = new TempDir();
        var v3 = WriteModel(tmp["v3"], "deepseek_v3");
        var cases = new (string Name, string Model, string Expect, string[] Args)[]
        {
            ("learned with bias", v3, "--merge learned: deepseek_v3 routers select with a score-correction bias",
                ["--similarity", "weights", "--merge", "learned", "--groups", "4"]),
        };
        Cli.Refusal.AssertEachRefused(output, tmp, "merge", cases);
    }
}
