using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Tests.Cli;
using MoePrune.Tests.IO;
using MoePrune.Tests.Models;
using MoePrune.Tests.Pruning;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Jobs;

/// <summary>
/// <c>merge</c> under group-limited routing (<c>make-tiny --n-group</c>), with MTP layers and FP8 weights, through the
/// real command line: merge groups stay within their routing group, every routing group ends with r/n_group merged
/// experts in slots [g·r/G, (g+1)·r/G); the reloaded (strict) model's logits equal a model merged in this test from the
/// groups' weights, router rows and score-correction biases (max difference printed); the MTP layer keeps the largest
/// ‖[gate|up|down]‖ per routing group (recomputed here) or is dropped; an FP8 checkpoint's merged experts are FP8 with
/// fresh block scales, within one FP8 step of the merged values computed here, and its other FP8 tensors are the
/// original bytes. Refusals (a count that is not a multiple of n_group, a groups map crossing routing groups, too few
/// experts per group) write nothing.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class MergeGroupLimitedTests(ITestOutputHelper output)
{
    const int Experts = 8, Vocab = 256, Merged = 4;

    static string[] Calibration(TempDir tmp) =>
        ["--calib", $"tokens:{JobSupport.WriteTokens(tmp["calib.txt"], 40, hi: Vocab, seed: 4)}", "--calib-sequences", "4", "--calib-seq-len", "12"];

    /// <summary>Experts paired {0,1},{2,3},…: within every routing group of an even size, halving each.</summary>
    static int[][] PairsMap() => Enumerable.Range(0, Merged).Select(n => new[] { 2 * n, 2 * n + 1 }).ToArray();

    [Theory]
    [InlineData("deepseek_v3", 2, true, false, "map")]
    [InlineData("deepseek_v3", 2, true, false, "weights")]
    [InlineData("glm4_moe", 2, true, true, "weights")]
    [InlineData("glm4_moe", 2, true, false, "map")]
    [InlineData("deepseek_v2", 4, false, false, "weights")]
    public void MergedWithinRoutingGroupsEqualsTheModelMergedHere(string family, int nGroup, bool mtp, bool dropMtp, string how)
    {
        using var tmp = new TempDir();
        string model = tmp["m"], merged = tmp["x"];
        Assert.Equal(0, JobSupport.Cli(["make-tiny", family, "--out", model, "--n-group", nGroup.ToString(), "--json", .. mtp ? new[] { "--mtp" } : []]));
        using var full = ModelLoader.Load(model, ScalarType.Float32);
        var map = full.MoeLayers.ToDictionary(v => v.LayerIndex, _ => PairsMap());
        string[] grouping = how == "map" ? ["--groups-map", MergeSupport.GroupsMap(tmp["map.json"], map)]
                                         : ["--similarity", "weights", "--groups", Merged.ToString()];
        var run = JobSupport.CliOutput(["merge", model, .. grouping, "--merge", "frequency", .. Calibration(tmp), "--dtype", "float32",
                                        "--out", merged, "--json", .. dropMtp ? new[] { "--drop-mtp" } : []]);
        Assert.True(run.Code == 0, run.Err);
        var record = MergeSupport.Record(merged);
        var layers = MergeSupport.Layers(record["rounds"]![0]!);

        // the groups: within one routing group each, r/G per routing group, routing group g in slots [g·r/G, (g+1)·r/G)
        int size = Experts / nGroup, per = Merged / nGroup;
        foreach (var (layer, (groups, _, _)) in layers)
        {
            Assert.Equal(Merged, groups.Length);
            for (int n = 0; n < groups.Length; n++)
                Assert.All(groups[n], e => Assert.Equal(n / per, e / size));
            if (how == "map") Assert.Equal(map[layer], groups);
        }
        Assert.Contains(layers.Values, l => l.Groups.Any(g => g.Length > 1));

        // strict reload; the expert count, n_group and the MTP layer consistent
        using var reloaded = ModelLoader.Load(merged, ScalarType.Float32);
        Assert.Equal(Merged, reloaded.Config.NumExperts);
        Assert.Equal(nGroup, reloaded.Config.Groups.NGroup);
        Assert.All(reloaded.MoeLayers, v => Assert.Equal(Merged, v.NumExperts));
        string mtpNote = "no MTP layer";
        using var noGrad = no_grad();
        if (mtp && !dropMtp)
        {
            int mtpLayer = full.Config.NumHiddenLayers;
            var kept = record["mtp"]!["layers"]![mtpLayer.ToString()]!["kept"]!.AsArray().Select(v => (int)v!).ToArray();
            Assert.Equal(NaiveWeightNormKeep(full, Merged, nGroup), kept);
            var source = full.Model.MtpLayers.Single().Moe!;
            var result = reloaded.Model.MtpLayers.Single().Moe!;
            Assert.Equal(Merged, result.NumExperts);
            for (int s = 0; s < Merged; s++)
                Assert.Equal(0.0, ModelFixtures.MaxAbsDiff(result.GateProj(s), source.GateProj(kept[s])));
            mtpNote = $"MTP layer keeps [{string.Join(",", kept)}] by weight norm";
        }
        else if (mtp)
        {
            Assert.Equal(0, reloaded.Config.NumMtpLayers);
            Assert.Equal("dropped", (string)record["mtp"]!["rule"]!);
            mtpNote = "MTP layer dropped";
        }
        else Assert.Null(record["mtp"]);

        // the forward: the exported model = the model merged here (Σ α over each group: weights, router rows, biases)
        using var reference = MergeSupport.Weighted(full, Merged, layers);
        var (ids, mask) = SurgerySupport.PaddedBatch(9, Vocab);
        var x = SurgerySupport.RealRows(reloaded.Logits(ids, mask), mask);                     // (N, V)
        var y = SurgerySupport.RealRows(reference.Logits(ids, mask), mask);                    // (N, V)
        var z = SurgerySupport.RealRows(full.Logits(ids, mask), mask);                         // (N, V)
        double diff = ModelFixtures.MaxAbsDiff(x, y), effect = ModelFixtures.MaxAbsDiff(z, y);
        output.WriteLine($"{family} n_group {nGroup} ({how}): groups {string.Join(" ", layers.First().Value.Groups.Select(g => "{" + string.Join(",", g) + "}"))}; "
                         + $"{mtpNote}; max |Δ logits| export vs merged here {diff:E2} (merging moves them by {effect:F3})");
        Assert.True(diff <= 1e-5, $"exported logits differ from the model merged here by {diff:E2}");
        Assert.True(effect > 1e-3, "the merge must change the model for the test to mean anything");
    }

    [Fact]
    public void Fp8MergedExpertsAreRequantizedAndTheRestKeepTheirBytes()
    {
        using var tmp = new TempDir();
        string model = tmp["m"], merged = tmp["x"];
        Assert.Equal(0, JobSupport.Cli(["make-tiny", "deepseek_v3", "--out", model, "--n-group", "2", "--mtp", "--fp8", "--json"]));
        using var full = ModelLoader.Load(model, ScalarType.Float32);                        // dequantized originals
        // merged in float32: a bf16 sum of nearly cancelling members carries bf16 rounding of the members (2^-9 of |W|),
        // more than an FP8 step of the small result; the FP8 rounding itself is what this test bounds
        var map = full.MoeLayers.ToDictionary(v => v.LayerIndex, _ => new[] { new[] { 0, 3 }, new[] { 1, 2 }, new[] { 4 }, new[] { 5, 6, 7 } });
        var run = JobSupport.CliOutput(["merge", model, "--groups-map", MergeSupport.GroupsMap(tmp["map.json"], map), "--dtype", "float32", "--out", merged, "--json"]);
        Assert.True(run.Code == 0, run.Err);
        var record = MergeSupport.Record(merged);
        var layers = MergeSupport.Layers(record["rounds"]![0]!);
        int mtpLayer = full.Config.NumHiddenLayers;
        var mtpKept = record["mtp"]!["layers"]![mtpLayer.ToString()]!["kept"]!.AsArray().Select(v => (int)v!).ToArray();
        using var source = CheckpointDirectory.Open(model);
        using var result = CheckpointDirectory.Open(merged);
        using var reloaded = ModelLoader.Load(merged);                                         // strict
        Assert.Equal(Merged, reloaded.Config.NumExperts);
        Assert.Equal(Merged, reloaded.Model.MtpLayers.Single().Moe!.NumExperts);

        // merged experts: FP8 codes with fresh scales, within one FP8 step of Σ α·W computed here from the originals
        double worstSteps = 0, worstScale = 0;
        int requantized = 0;
        using var noGrad = no_grad();
        foreach (var (layer, (groups, alphas, _)) in layers)
        {
            var view = full.MoeLayers.Single(v => v.LayerIndex == layer);
            for (int n = 0; n < groups.Length; n++)
            {
                if (groups[n].Length == 1) continue;
                foreach (var (proj, part) in new (string, Func<int, Tensor>)[] { ("gate_proj", view.GateProj), ("up_proj", view.UpProj), ("down_proj", view.DownProj) })
                {
                    string name = $"model.layers.{layer}.mlp.experts.{n}.{proj}.weight";
                    Assert.Equal(SafeDtype.F8_E4M3, result.Tensors[name].Dtype);
                    var expected = zeros_like(part(0), dtype: ScalarType.Float64);             // (R, C)
                    for (int i = 0; i < groups[n].Length; i++) expected += part(groups[n][i]).to(ScalarType.Float64) * MoePrune.Native.Scalars.Of(alphas[n][i]);
                    var (steps, scaleError) = Fp8Distance(Bytes(result, name), result.Read(name + "_scale_inv"), expected);
                    worstSteps = Math.Max(worstSteps, steps);
                    worstScale = Math.Max(worstScale, scaleError);
                    requantized++;
                }
            }
        }

        // untouched FP8 tensors (singleton experts, MTP experts kept, attention, shared experts) and their scales: the original bytes
        int identical = 0;
        foreach (var (name, entry) in result.Tensors.Where(t => t.Value.Dtype == SafeDtype.F8_E4M3))
        {
            var m = System.Text.RegularExpressions.Regex.Match(name, @"^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(.+)$");
            string from = name;
            if (m.Success)
            {
                int layer = int.Parse(m.Groups[1].Value), slot = int.Parse(m.Groups[2].Value);
                int[] members = layer == mtpLayer ? [mtpKept[slot]] : layers[layer].Groups[slot];
                if (members.Length > 1) continue;                                              // merged: re-quantized above
                from = $"model.layers.{layer}.mlp.experts.{members[0]}.{m.Groups[3].Value}";
            }
            Assert.True(Bytes(source, from).AsSpan().SequenceEqual(Bytes(result, name)), $"{name} differs from {from}");
            Assert.True(Bytes(source, from + "_scale_inv").AsSpan().SequenceEqual(Bytes(result, name + "_scale_inv")), $"{name}_scale_inv differs");
            identical++;
        }
        output.WriteLine($"FP8 deepseek_v3 n_group 2 + MTP: {requantized} merged tensors re-quantized, worst |dequantized − merged| "
                         + $"{worstSteps:F3} FP8 steps, worst scale vs amax/448 {worstScale:E2} relative; {identical} untouched FP8 tensors byte-identical with their scales");
        Assert.True(requantized > 0 && identical > 0);
        Assert.True(worstSteps <= 1.0, $"a re-quantized merged weight is {worstSteps:F3} FP8 steps from the merged value");
        Assert.True(worstScale <= 1e-2, $"a fresh block scale is {worstScale:E2} away from amax/448");
    }

    [Fact]
    public void MergesThatBreakTheRoutingGroupsAreRefusedInOneLine()
    {
        using var tmp = new TempDir();
        string v3 = tmp["v3"], v2 = tmp["v2"];
        Assert.Equal(0, JobSupport.Cli("make-tiny", "deepseek_v3", "--out", v3, "--n-group", "2", "--mtp", "--json"));
        Assert.Equal(0, JobSupport.Cli("make-tiny", "deepseek_v2", "--out", v2, "--n-group", "4", "--json"));
        using var full = ModelLoader.Load(v3);
        var crossing = MergeSupport.GroupsMap(tmp["cross.json"], full.MoeLayers.ToDictionary(v => v.LayerIndex,
            _ => new[] { new[] { 0, 1 }, new[] { 2, 3, 4 }, new[] { 5 }, new[] { 6, 7 } }));
        var uneven = MergeSupport.GroupsMap(tmp["uneven.json"], full.MoeLayers.ToDictionary(v => v.LayerIndex,
            _ => new[] { new[] { 0, 1, 2 }, new[] { 3 }, new[] { 4 }, new[] { 5 }, new[] { 6, 7 } }));
        var cases = new (string Name, string Model, string Expect, string[] Args)[]
        {
            ("not a multiple of n_group", v3, "--groups 5: layer", ["--similarity", "weights", "--groups", "5"]),
            ("too few per group", v3, "each of the n_group = 2 groups would hold 1 expert(s); the group score needs at least 2", ["--similarity", "weights", "--groups", "2"]),
            ("v2 too few per group", v2, "--groups 2: layer", ["--similarity", "weights", "--groups", "2"]),
            ("map crossing routing groups", v3, "crosses routing groups (n_group = 2", ["--groups-map", crossing]),
            ("map with uneven routing groups", v3, "routing groups would keep 2, 3 merged experts", ["--groups-map", uneven]),
            ("drop-mtp without MTP", v2, "--drop-mtp: ", ["--similarity", "weights", "--groups", "4", "--drop-mtp"]),
        };
        Cli.Refusal.AssertEachRefused(output, tmp, "merge", cases);
    }

    [Fact]
    public void GroupLimitedMergeRoundsWithMtpLeakNoTensors()
    {
        using var tmp = new TempDir();
        TinyCheckpoint.Write("glm4_moe", tmp["m"], seed: 2, variant: new TinyVariant { Groups = 2, MtpLayers = 1 });
        using var model = ModelLoader.Load(tmp["m"]);
        var input = new MoePrune.Jobs.RoundInput(1, model, MoePrune.Jobs.ExpertLineage.Identity(model.MoeLayers), tmp["m"]);
        MoePrune.Jobs.MergeSpec[] specs =
        [
            new() { Similarity = MoePrune.Merging.SimilarityKind.Weights, Groups = 4 },
            new() { Similarity = MoePrune.Merging.SimilarityKind.Weights, Groups = 6, DropMtp = true },
        ];
        void RunAll()
        {
            foreach (var spec in specs)
                using (var round = MoePrune.Jobs.MergeRound.Run(input, spec))
                    Assert.Equal(spec.GroupsFor(Experts), round.Model.MoeLayers[0].NumExperts);
        }
        RunAll();                                                                                   // warm-up (lazy native state)
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        RunAll();
        long after = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        output.WriteLine($"live tensors before {before}, after {after}");
        Assert.Equal(before, after);
    }

    /// <summary>The MTP layer's experts with the largest ‖[gate|up|down]‖ per routing group, computed here.</summary>
    static int[] NaiveWeightNormKeep(MoeForCausalLM full, int keep, int groups)
    {
        var block = full.Model.MtpLayers.Single().Moe!;
        var norms = Enumerable.Range(0, Experts).Select(e => Math.Sqrt(new[] { block.GateProj(e), block.UpProj(e), block.DownProj(e) }
            .Sum(w => w.to(ScalarType.Float64).pow(2).sum().item<double>()))).ToArray();
        int size = Experts / groups;
        return Enumerable.Range(0, groups).SelectMany(g => Enumerable.Range(g * size, size).OrderByDescending(e => norms[e]).Take(keep / groups))
            .Order().ToArray();
    }

    /// <summary>
    /// The worst distance, in FP8 steps of each element's own block-scaled value, between the codes × block scales
    /// (decoded here: e4m3fn, bias 7, subnormals below 2^-6) and <paramref name="expected"/>; and the worst relative
    /// difference of a block scale from amax(expected block)/448.
    /// </summary>
    static (double Steps, double ScaleError) Fp8Distance(byte[] codes, Tensor scaleInv, Tensor expected)
    {
        int rows = (int)expected.shape[0], cols = (int)expected.shape[1], block = MoePrune.Models.TinyVariant.Fp8Block;
        var scale = scaleInv.to(ScalarType.Float64).contiguous().data<double>().ToArray();   // (R/b, C/b)
        var want = expected.contiguous().data<double>().ToArray();                             // (R·C)
        int scaleCols = (cols + block - 1) / block;
        double worst = 0, scaleError = 0;
        var amax = new double[scale.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int b = r / block * scaleCols + c / block;
                double s = scale[b], q = Decode(codes[r * cols + c]), w = want[r * cols + c] / s;
                double magnitude = Math.Max(Math.Abs(q), Math.Abs(w));
                double step = Math.Pow(2, Math.Max(Math.Floor(Math.Log2(Math.Max(magnitude, 1e-30))), -6) - 3);
                worst = Math.Max(worst, Math.Abs(q - w) / step);
                amax[b] = Math.Max(amax[b], Math.Abs(want[r * cols + c]));
            }
        for (int b = 0; b < scale.Length; b++) scaleError = Math.Max(scaleError, Math.Abs(scale[b] - amax[b] / 448) / (amax[b] / 448));
        return (worst, scaleError);
    }

    static double Decode(byte code)
    {
        int sign = code >> 7, exponent = (code >> 3) & 0xF, mantissa = code & 7;
        Assert.False(exponent == 15 && mantissa == 7, "NaN code");
        double value = exponent == 0 ? mantissa / 8.0 * Math.Pow(2, -6) : (1 + mantissa / 8.0) * Math.Pow(2, exponent - 7);
        return sign == 1 ? -value : value;
    }

    static byte[] Bytes(CheckpointDirectory checkpoint, string name)
    {
        using var stream = new MemoryStream();
        checkpoint.FileOf(name).CopyBytes(name, stream);
        return stream.ToArray();
    }
}
