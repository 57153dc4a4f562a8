using System.Text.Json.Nodes;
using MoePrune.Jobs;
using MoePrune.Layerwise;
using MoePrune.Merging;
using MoePrune.Merging.Merge;
using MoePrune.Models;
using MoePrune.Tests.Cli;
using MoePrune.Tests.IO;
using MoePrune.Tests.Jobs;
using MoePrune.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Layerwise;

/// <summary>
/// <c>merge</c> layer by layer against in memory, for every reference fixture (every family; fp32, bf16, block FP8; fused and
/// sharded layouts; group-limited routing with the score-correction bias; MTP layers): a data-centric similarity with a
/// frequency merge, the router-logit similarity with the learned merge (max-frequency where routers carry a bias), and a
/// data-free one (no calibration pass) give byte-identical checkpoints and the same groups, coefficients, counts and
/// similarities in merging.json. Then the memory budget's choice, spilled hidden states, no leaks, and the refusals.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class LayerwiseMergeTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases() => new([.. ModelFixtures.Cases, .. Families.DeepseekFixtures.Cases]);

    static CalibrationSettings Calibration(string spec) => new() { Spec = spec, Sequences = 6, Length = 20, BatchSize = 4, InputSampleRows = 48 };

    /// <summary>The largest merged count below the expert count that the family, top-k and routing groups allow (one expert less per group).</summary>
    static int Groups(MoeConfig config)
    {
        int e = config.NumExperts, g = config.Groups.IsGroupLimited ? config.Groups.NGroup : 1;
        for (int r = e - g; r >= config.TopK; r -= g)
            if ((!config.Groups.IsGroupLimited || config.Groups.CountProblem(r, config.TopK) is null) && config.Family.ExpertCountProblem(config, r) is null)
                return r;
        throw new InvalidOperationException($"{config.Path}: no merged count possible");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MergesAreByteIdenticalToTheInMemoryMerge(string fixture)
    {
        string dir = ModelFixtures.Dir(fixture);
        using var tmp = new TempDir();
        MoeConfig config;
        using (var checkpoint = LayerwiseCheckpoint.Open(dir)) config = checkpoint.Config;
        var calibration = Calibration(LayerwiseSupport.Mix(tmp, 96));
        int groups = Groups(config);
        var cka = new MergeSpec { Similarity = SimilarityKind.Cka, Merge = MergeMethod.Frequency, Groups = groups, Calibration = calibration };
        var specs = new (string Name, MergeSpec Spec, TorchSharp.torch.ScalarType? Dtype)[]
        {
            ("cka-frequency", cka, null),
            ("logits", new MergeSpec
            {
                Similarity = SimilarityKind.RouterLogits, Groups = groups, Calibration = calibration, LearnedSteps = 4,
                Merge = config.Family.RouterScoreCorrectionBias ? MergeMethod.MaxFrequency : MergeMethod.Learned,
            }, null),
            ("weights-uniform", new MergeSpec { Similarity = SimilarityKind.Weights, Merge = MergeMethod.Uniform, Groups = groups, Calibration = calibration }, null),
        };
        if (config.Dtype != TorchSharp.torch.ScalarType.Float32) specs = [.. specs, ("cka-frequency-float32", cka, TorchSharp.torch.ScalarType.Float32)];
        foreach (var (name, spec, dtype) in specs)
        {
            var memory = MergeJob.Run(new MergeRequest { ModelDir = dir, OutDir = tmp[$"memory-{name}"], Spec = spec, Dtype = dtype });
            var progress = new List<LayerwiseProgress>();
            var layerwise = MergeJob.Run(new MergeRequest { ModelDir = dir, OutDir = tmp[$"layerwise-{name}"], Spec = spec, Dtype = dtype, Execution = new() { Force = true } },
                                         layerProgress: progress.Add);
            Assert.Null(memory.Layerwise);
            Assert.NotNull(layerwise.Layerwise);
            Assert.True(progress.Count > 0);
            int files = LayerwiseSupport.AssertSameFiles(memory.OutDir, layerwise.OutDir, MergeRecord.File);
            double max = AssertSameRecord(memory.Record, layerwise.Record);
            output.WriteLine($"{name}: {files} files byte-identical; merging.json similarities within {max:E2} relative");
        }
    }

    /// <summary>The same input, spec, calibration, MTP choice, groups and merged experts; similarities and counts within fp32 noise. Returns the largest similarity difference.</summary>
    static double AssertSameRecord(JsonObject expected, JsonObject actual)
    {
        foreach (var key in new[] { "layers", "merge", "calibration", "mtp", "method" })
            Assert.True(JsonNode.DeepEquals(expected[key], actual[key]), $"merging.json {key}: {expected[key]} vs {actual[key]}");
        Assert.Equal(expected["input"]!.ToJsonString(), actual["input"]!.ToJsonString());
        var (e, a) = (expected["rounds"]![0]!.AsObject(), actual["rounds"]![0]!.AsObject());
        Assert.Equal(e["calibration_tokens"]!.GetValue<long>(), a["calibration_tokens"]!.GetValue<long>());
        Assert.True(JsonNode.DeepEquals(e["mtp"], a["mtp"]));
        double max = 0;
        foreach (var (layer, el) in e["layers"]!.AsObject())
        {
            var al = a["layers"]![layer]!;
            foreach (var key in new[] { "experts", "merged_experts", "groups", "group_slots", "coefficients", "scales", "routed_counts", "input_rows", "learned" })
                Assert.True(JsonNode.DeepEquals(el![key], al[key]), $"layer {layer} {key}: {el[key]} vs {al[key]}");
            if (el!["similarity"] is not JsonObject s) continue;
            Assert.Equal(s["kind"]!.GetValue<string>(), al["similarity"]!["kind"]!.GetValue<string>());
            var rows = s["matrix"]!.AsArray().Zip(al["similarity"]!["matrix"]!.AsArray());
            foreach (var (x, y) in rows)
                foreach (var (u, v) in x!.AsArray().Zip(y!.AsArray()))
                    max = Math.Max(max, LayerwiseSupport.Rel(u?.GetValue<double>() ?? 0, v?.GetValue<double>() ?? 0));
        }
        Assert.True(max <= 1e-6, $"similarity: relative difference {max:E2}");
        return max;
    }

    [Fact]
    public void TheBudgetChoosesLayerwiseAndSpilledHiddenStatesGiveTheSameMergeWithoutLeaks()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"], family: "olmoe", seed: 8);
        long largest, size;
        using (var c = LayerwiseCheckpoint.Open(model)) (largest, size) = (c.Sizes.LargestUnit, c.Sizes.Model);
        var spec = new MergeSpec
        {
            Similarity = SimilarityKind.Cka, Merge = MergeMethod.Frequency, Groups = 6,
            Calibration = new() { Spec = LayerwiseSupport.Mix(tmp, JobSupport.Vocab), Sequences = 8, Length = 16, BatchSize = 3, InputSampleRows = 40 },
        };
        MergeResult Merge(string outDir, LayerwiseSettings execution) =>
            MergeJob.Run(new MergeRequest { ModelDir = model, OutDir = tmp[outDir], Spec = spec, Execution = execution });
        var memory = Merge("memory", new() { MemoryBudget = 4 * size });
        Assert.Null(memory.Layerwise);
        var chosen = Merge("chosen", new() { MemoryBudget = size / 2 });                   // not forced: the budget decides
        Assert.Contains("more than the memory budget", chosen.Layerwise!.Reason);
        // the merged experts count: 8 → 6 keeps at most 2 merged experts per layer, 3·H·I values each, beside the model and one layer
        long layer, beside;
        using (var c = LayerwiseCheckpoint.Open(model))
        {
            layer = c.Sizes.Layers.Values.Max();
            beside = MergeJob.MergedExpertBytes(c, spec);
            Assert.Equal(c.Config.MoeLayerIndices.Count() * 2L * 3 * c.Config.HiddenSize * c.Config.ExpertIntermediateSize * 4, beside);
        }
        var tight = Merge("tight", new() { MemoryBudget = size + layer + beside / 2 });
        Assert.Contains("and the job", tight.Layerwise!.Reason);
        Assert.False(chosen.Layerwise.Spilled);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var spilled = Merge("spilled", new() { Force = true, MemoryBudget = largest + 1, SpillDir = tmp.Path });
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);         // no tensor left behind
        Assert.True(spilled.Layerwise!.Spilled);
        Assert.Empty(Directory.GetFiles(tmp.Path, "moeprune-*"));                           // spill files deleted
        foreach (var result in new[] { chosen, tight, spilled })
        {
            LayerwiseSupport.AssertSameFiles(memory.OutDir, result.OutDir, MergeRecord.File);
            AssertSameRecord(memory.Record, result.Record);
        }
    }

    [Fact]
    public void TheGgufFileOfALayerByLayerMergeIsTheInMemoryMergesByteForByte()
    {
        using var tmp = new TempDir();
        string model = DefaultModelFiles.Directory();
        foreach (var (mode, extra) in new[] { ("memory", Array.Empty<string>()), ("layerwise", ["--layerwise"]) })
        {
            Directory.CreateDirectory(tmp[mode]);
            var (code, _, stderr) = InProcessCli.Run(["merge", model, "--similarity", "weights", "--merge", "uniform", "--groups", "6",
                                                      "--out", Path.Combine(tmp[mode], "merged"), "--gguf", Path.Combine(tmp[mode], "merged.gguf"), .. extra]);
            Assert.True(code == 0, stderr);
        }
        var (a, b) = (File.ReadAllBytes(Path.Combine(tmp["memory"], "merged.gguf")), File.ReadAllBytes(Path.Combine(tmp["layerwise"], "merged.gguf")));
        Assert.True(a.AsSpan().SequenceEqual(b), "the GGUF files differ");
        output.WriteLine($"GGUF files of {a.Length} bytes identical");
    }

    [Fact]
    public void TheCommandMergesLayerByLayerAndRefusesWhatNeedsTheModelInMemory()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"], family: "olmoe", seed: 3);
        var (code, stdout, stderr) = InProcessCli.Run("merge", model, "--similarity", "weights", "--merge", "uniform", "--groups", "6",
                                                      "--layerwise", "--out", tmp["lw"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("layer by layer (--layerwise given)", stdout);
        (code, _, stderr) = InProcessCli.Run("merge", model, "--similarity", "weights", "--merge", "uniform", "--groups", "6", "--out", tmp["mem"]);
        Assert.True(code == 0, stderr);
        LayerwiseSupport.AssertSameFiles(tmp["mem"], tmp["lw"], MergeRecord.File);

        // a groups map that merges two layers differently and leaves the third alone (non-portable counts), learned merge
        var map = MergeSupport.GroupsMap(tmp["groups.json"], new Dictionary<int, int[][]>
        {
            [0] = [[0, 3], [1], [2], [4, 5, 6], [7]],
            [2] = [[0, 1], [2, 3], [4], [5], [6], [7]],
        });
        string[] mapped = ["merge", model, "--groups-map", map, "--non-uniform", "--merge", "learned", "--learned-steps", "3",
                           "--calib", $"tokens:{JobSupport.WriteTokens(tmp["ids.txt"], 20, hi: JobSupport.Vocab, seed: 4)}", "--calib-sequences", "4",
                           "--calib-seq-len", "12", "--similarity-tokens", "30"];
        (code, _, stderr) = InProcessCli.Run([.. mapped, "--out", tmp["map-mem"]]);
        Assert.True(code == 0, stderr);
        (code, _, stderr) = InProcessCli.Run([.. mapped, "--layerwise", "--out", tmp["map-lw"]]);
        Assert.True(code == 0, stderr);
        LayerwiseSupport.AssertSameFiles(tmp["map-mem"], tmp["map-lw"], MergeRecord.File);
        var (mem, lw) = (JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["map-mem"], MergeRecord.File)))!.AsObject(),
                         JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["map-lw"], MergeRecord.File)))!.AsObject());
        AssertSameRecord(mem, lw);
        Assert.Equal(["0", "2"], lw["rounds"]![0]!["layers"]!.AsObject().Select(kv => kv.Key));

        (code, _, stderr) = InProcessCli.Run("merge", model, "--similarity", "weights", "--groups", "6", "--memory-budget", "1K", "--out", tmp["small"]);
        Assert.Equal(1, code);
        Assert.Contains("--memory-budget 1.0 kB: smaller than the largest part", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.False(Directory.Exists(tmp["small"]));

        var spec = new MergeSpec { Similarity = SimilarityKind.Weights, Groups = 6 };
        var e = Assert.Throws<MoePruneException>(() => MergeJob.Run(
            new MergeRequest { ModelDir = model, OutDir = tmp["hooked"], Spec = spec, Execution = new() { Force = true } }, hooks: new RoundHooks()));
        Assert.Contains("need the model in memory", e.Message);
        Assert.False(Directory.Exists(tmp["hooked"]));
    }
}
