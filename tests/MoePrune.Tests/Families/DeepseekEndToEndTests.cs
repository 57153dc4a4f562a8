using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Tests.Cli;
using MoePrune.Tests.IO;
using MoePrune.Tests.Jobs;
using MoePrune.Tests.Models;
using MoePrune.Tests.Pruning;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Families;

/// <summary>
/// The new families through the real command line: <c>make-tiny</c> (group-limited routing, an MTP layer, block FP8) →
/// <c>score</c> → <c>prune --scores</c> (group-balanced where the family has groups; MTP layer pruned by weight norm or
/// dropped) → the output reloaded strictly. Compared with what the test computes itself: the removed experts (each
/// group's lowest scores from scores.json), the balance of every group, the MTP layer's kept experts (largest
/// ‖[gate|up|down]‖ per group), the logits of the full model with the removed experts masked (max difference printed),
/// every tensor but the routers byte-identical to its original (FP8 codes and scales stay FP8), router rows and
/// score-correction biases sliced together.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class DeepseekEndToEndTests(ITestOutputHelper output)
{
    const int Experts = 8, Vocab = 256;

    [Theory]
    [InlineData("deepseek_v2", 4, false, false, "min-ean", "--drop", 4, false)]
    [InlineData("deepseek_v3", 2, true, true, "min-reap", "--drop", 2, false)]
    [InlineData("deepseek_v3", 2, true, true, "naee", "--keep", 4, true)]
    [InlineData("kimi_k2", 1, true, true, "min-frequency", "--drop", 3, false)]
    [InlineData("glm4_moe", 2, true, false, "min-ean", "--drop", 2, false)]
    [InlineData("glm4_moe", 2, true, false, "max-ews", "--drop", 4, true)]
    public void MakeTinyScorePruneReloadEqualsTheMaskedModel(string family, int groups, bool mtp, bool fp8, string criterion,
                                                             string countOption, int count, bool dropMtp)
    {
        using var scope = NewDisposeScope();
        using var tmp = new TempDir();
        string model = tmp["m"], scores = tmp["s.json"], pruned = tmp["p"];
        string[] make = ["make-tiny", family, "--out", model, "--n-group", groups.ToString(), "--json", .. mtp ? new[] { "--mtp" } : [], .. fp8 ? new[] { "--fp8" } : []];
        Assert.Equal(0, JobSupport.Cli(make));
        var tokens = JobSupport.WriteTokens(tmp["t.txt"], 40, hi: Vocab, seed: 7);
        string[] calib = ["--calib", $"tokens:{tokens}", "--calib-sequences", "4", "--calib-seq-len", "16"];
        string[] naeeKeep = criterion == "naee" ? ["--naee-keep", count.ToString()] : [];
        Assert.Equal(0, JobSupport.Cli(["score", model, "--criteria", criterion, "--out", scores, "--json", .. calib, .. naeeKeep]));
        var run = JobSupport.CliOutput(["prune", model, "--criterion", criterion, countOption, count.ToString(), "--scores", scores,
                                        "--eval-token-file", tokens, "--eval-sequences", "4", "--out", pruned, "--json", .. dropMtp ? new[] { "--drop-mtp" } : []]);
        Assert.True(run.Code == 0, run.Err);
        var record = JsonFile.ReadObject(Path.Combine(pruned, "pruning.json"));
        int keep = countOption == "--keep" ? count : Experts - count, size = Experts / groups;

        // the selection: group-balanced, and (for a criterion) each group's lowest drop-order values, computed here
        var removed = record["layers"]!.AsObject().ToDictionary(kv => int.Parse(kv.Key), kv => (IReadOnlyList<int>)Ints(kv.Value!["removed"]));
        Assert.Equal(groups > 1 && criterion != "naee" ? "group-balanced" : criterion == "naee" ? "naee" : "uniform", (string)record["method"]!);
        foreach (var (layer, r) in removed)
        {
            Assert.Equal(Experts - keep, r.Count);
            Assert.All(Enumerable.Range(0, groups), g => Assert.Equal((Experts - keep) / groups, r.Count(e => e / size == g)));
            if (criterion == "naee") continue;
            var values = JobSupport.Values(scores)[criterion][layer.ToString()];
            int sign = criterion.StartsWith("max-") ? -1 : 1;
            var naive = Enumerable.Range(0, groups).SelectMany(g => Enumerable.Range(g * size, size)
                .OrderBy(e => sign * values[e]).ThenBy(e => e).Take((Experts - keep) / groups)).Order();
            Assert.Equal(naive, r);
        }

        // the checkpoint: strict reload, one expert count everywhere, n_group kept, MTP consistent
        using var full = ModelLoader.Load(model, ScalarType.Float32);
        using var reloaded = ModelLoader.Load(pruned, ScalarType.Float32);
        int mtpLayer = full.Config.NumHiddenLayers;
        Assert.Equal(keep, reloaded.Config.NumExperts);
        Assert.Equal(full.Config.Groups.NGroup, reloaded.Config.Groups.NGroup);
        Assert.All(reloaded.MoeLayers, l => Assert.Equal(keep, l.NumExperts));
        Assert.Equal(mtp && !dropMtp ? 1 : 0, reloaded.Config.NumMtpLayers);
        Dictionary<int, IReadOnlyList<int>> keptOriginals = removed.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<int>)Enumerable.Range(0, Experts).Except(kv.Value).ToArray());
        string mtpNote = "no MTP layer";
        if (mtp && !dropMtp)
        {
            var mtpKept = Ints(record["mtp"]!["layers"]![mtpLayer.ToString()]!["kept"]);
            Assert.Equal(keep, reloaded.Model.MtpLayers.Single().Moe!.NumExperts);
            Assert.Equal(NaiveWeightNormKeep(full, mtpLayer, keep, groups), mtpKept);
            keptOriginals[mtpLayer] = mtpKept;
            mtpNote = $"MTP layer {mtpLayer} keeps [{string.Join(",", mtpKept)}] by weight norm";
        }
        else if (mtp)
        {
            Assert.Equal("dropped", (string)record["mtp"]!["rule"]!);
            Assert.Empty(reloaded.Model.MtpLayers);
            mtpNote = "MTP layer dropped";
        }

        // the forward: pruned checkpoint = full model with the removed experts masked (also out of their group's score)
        var (ids, mask) = SurgerySupport.PaddedBatch(11, Vocab);
        double diff, effect;
        using (no_grad())
        {
            var expected = SurgerySupport.MaskedReference(full, removed, ids, mask);      // (N, V)
            var actual = SurgerySupport.RealRows(reloaded.Logits(ids, mask), mask);     // (N, V)
            var unpruned = SurgerySupport.RealRows(full.Logits(ids, mask), mask);       // (N, V)
            diff = ModelFixtures.MaxAbsDiff(actual, expected);
            effect = ModelFixtures.MaxAbsDiff(unpruned, expected);
        }

        // the bytes: every tensor but the routers is its original's (FP8 codes and scales included); routers sliced together
        var (identical, fp8Tensors) = CompareWithOriginal(model, pruned, keptOriginals, dropMtp ? mtpLayer : -1);
        var cost = record["cost"]!["perplexity"];
        output.WriteLine($"{family} n_group {groups}{(fp8 ? ", FP8" : "")}: {criterion} keeps {keep}/{Experts}; {mtpNote}; "
                         + $"max |Δ logits| reloaded vs masked {diff:E2} (the removal moves them by {effect:F3}); {identical} tensors "
                         + $"byte-identical ({fp8Tensors} FP8); perplexity {(double?)cost?["before"]:F2} → {(double?)cost?["after"]:F2}");
        Assert.True(diff <= 1e-5, $"reloaded pruned logits differ from the masked full model by {diff:E2}");
        Assert.True(effect > 1e-3, "the removed experts must matter for the test to mean anything");
        if (fp8) Assert.True(fp8Tensors > 0, "an FP8 checkpoint must stay FP8");
    }

    /// <summary>
    /// Refused before anything is written: a keep-map that removes more from one group than another, a global budget
    /// under group-limited routing, and <c>--drop-mtp</c> on a checkpoint without MTP layers.
    /// </summary>
    [Fact]
    public void UnbalancedOrImpossibleRequestsAreRefusedWithTheReason()
    {
        using var tmp = new TempDir();
        string v3 = tmp["v3"], v2 = tmp["v2"];
        Assert.Equal(0, JobSupport.Cli("make-tiny", "deepseek_v3", "--out", v3, "--n-group", "2", "--mtp", "--json"));
        Assert.Equal(0, JobSupport.Cli("make-tiny", "deepseek_v2", "--out", v2, "--json"));
        File.WriteAllText(tmp["k.json"], """{"0": [2, 3, 4, 5, 6, 7], "1": [2, 3, 4, 5, 6, 7]}""");
        var line = Refusal.Assert1(JobSupport.CliOutput("prune", v3, "--keep-map", tmp["k.json"], "--no-eval", "--out", tmp["o1"]),
                                   $"{tmp["k.json"]}: the keep-map is not group-balanced", output, tmp["o1"]);
        Assert.Contains("group", line);
        Refusal.Assert1(JobSupport.CliOutput("prune", v3, "--criterion", "ewn", "--drop", "2", "--global", "--no-eval", "--out", tmp["o2"]),
                        "--global: group-limited routing (n_group = 2)", output, tmp["o2"]);
        Refusal.Assert1(JobSupport.CliOutput("prune", v3, "--criterion", "ewn", "--drop", "3", "--no-eval", "--out", tmp["o3"]),
                        "selection: removing 3 of layer 0's 8 experts is not group-balanced", output, tmp["o3"]);
        Refusal.Assert1(JobSupport.CliOutput("prune", v2, "--criterion", "ewn", "--drop", "2", "--drop-mtp", "--no-eval", "--out", tmp["o4"]),
                        "--drop-mtp: ", output, tmp["o4"]);
        Assert.Equal(0, JobSupport.Cli("make-tiny", "kimi_k2", "--out", tmp["kimi"], "--mtp", "--json"));
        Refusal.Assert1(JobSupport.CliOutput("prune", tmp["kimi"], "--criterion", "ewn", "--drop", "2", "--global", "--no-eval", "--out", tmp["o5"]),
                        "--global: ", output, tmp["o5"]);
        Refusal.Assert1(JobSupport.CliOutput("make-tiny", "mixtral", "--n-group", "2", "--out", tmp["o6"]),
                        "tiny mixtral: the family has no group-limited routing", output, tmp["o6"]);
    }

    /// <summary>
    /// <c>make-tiny --tokenizer</c> (tokenizer files copied, vocabulary the tokenizer's) on an FP8 DeepSeek-V3 with groups and
    /// an MTP layer, pruned, then the evaluation harness: a task file and the KL gate, the full model against itself
    /// (KL 0, top-1 agreement 1) and the pruned model against the full one (KL &gt; 0).
    /// </summary>
    [Fact]
    public void MakeTinyWithATokenizerThenPruneAndEvaluate()
    {
        using var tmp = new TempDir();
        string source = DefaultModelFiles.Directory(), model = tmp["m"], pruned = tmp["p"];
        var run = JobSupport.CliOutput("make-tiny", "deepseek_v3", "--out", model, "--tokenizer", source, "--n-group", "2", "--mtp", "--fp8", "--json");
        Assert.Equal(0, run.Code);
        int vocab = (int)JsonNode.Parse(run.Out)!["vocab_size"]!;
        int expected = MoePrune.Tokenization.HfTokenizer.Load(source).VocabSize;               // the tokenizer's own count
        Assert.Equal(expected, vocab);
        Assert.Equal(File.ReadAllBytes(Path.Combine(source, "tokenizer.json")), File.ReadAllBytes(Path.Combine(model, "tokenizer.json")));
        var tokens = JobSupport.WriteTokens(tmp["t.txt"], 20, hi: vocab, seed: 3);
        Assert.Equal(0, JobSupport.Cli("prune", model, "--criterion", "min-ean", "--drop", "2", "--calib", $"tokens:{tokens}", "--calib-sequences", "4",
                                       "--calib-seq-len", "16", "--no-eval", "--out", pruned, "--json"));
        File.WriteAllText(tmp["text.txt"], string.Join(" ", Enumerable.Repeat("The old man walked slowly to the market and bought bread.", 12)));
        File.WriteAllLines(tmp["mc.jsonl"], ["""{"id": "m1", "context": "The cat sat on the", "choices": ["mat", "sky"], "gold": 0}"""]);
        JsonObject Eval(string dir) => JsonNode.Parse(JobSupport.CliOutput("eval", dir, "--reference", model, "--text-file", tmp["text.txt"],
            "--seq-len", "32", "--limit", "2", "--tasks", tmp["mc.jsonl"], "--json").Out)!.AsObject();
        var self = Eval(model);
        var after = Eval(pruned);
        double selfKl = (double)self["kl"]!["mean"]!, prunedKl = (double)after["kl"]!["mean"]!;
        output.WriteLine($"vocab_size {vocab}; KL(full ‖ full) {selfKl:E2}, top-1 {(double)self["kl"]!["top1_agreement"]!:F3}; "
                         + $"KL(full ‖ pruned) {prunedKl:F4}, top-1 {(double)after["kl"]!["top1_agreement"]!:F3}; mc acc {(double)after["tasks"]!["mc"]!["acc"]!}");
        Assert.True(Math.Abs(selfKl) < 1e-7);
        Assert.Equal(1.0, (double)self["kl"]!["top1_agreement"]!);
        Assert.True(prunedKl > 1e-4, "removing experts must move the distribution");
        Refusal.Assert1(JobSupport.CliOutput("make-tiny", "glm4_moe", "--out", tmp["n"], "--tokenizer", tmp["none"]),
                        $"--tokenizer: {tmp["none"]} is not a model folder", output, tmp["n"]);
    }

    /// <summary>The MTP layer's experts kept by ‖[gate|up|down]‖ (Frobenius), the largest of each group, computed here.</summary>
    static int[] NaiveWeightNormKeep(MoeForCausalLM full, int layer, int keep, int groups)
    {
        var block = full.Model.MtpLayers[layer - full.Config.NumHiddenLayers].Moe!;
        var norms = Enumerable.Range(0, Experts).Select(e => Math.Sqrt(new[] { block.GateProj(e), block.UpProj(e), block.DownProj(e) }
            .Sum(w => w.to(ScalarType.Float64).pow(2).sum().item<double>()))).ToArray();
        int size = Experts / groups;
        return Enumerable.Range(0, groups).SelectMany(g => Enumerable.Range(g * size, size).OrderByDescending(e => norms[e]).Take(keep / groups))
            .Order().ToArray();
    }

    /// <summary>
    /// Every output tensor against the original it comes from (experts renamed through <paramref name="kept"/>): routers'
    /// rows and biases equal the original's kept rows, every other tensor byte-identical; the original's tensors not
    /// accounted for are exactly the removed experts' (and the dropped MTP layer's). Returns the byte-identical count and
    /// how many of them are F8_E4M3.
    /// </summary>
    static (int Identical, int Fp8) CompareWithOriginal(string originalDir, string prunedDir, Dictionary<int, IReadOnlyList<int>> kept, int droppedLayer)
    {
        using var original = CheckpointDirectory.Open(originalDir);
        using var pruned = CheckpointDirectory.Open(prunedDir);
        var used = new HashSet<string>();
        int identical = 0, fp8 = 0;
        foreach (var (name, entry) in pruned.Tensors)
        {
            var router = Regex.Match(name, @"^model\.layers\.(\d+)\.mlp\.gate\.(weight|e_score_correction_bias)$");
            if (router.Success)
            {
                var rows = tensor(kept[int.Parse(router.Groups[1].Value)].Select(e => (long)e).ToArray());   // (E')
                Assert.Equal(0.0, ModelFixtures.MaxAbsDiff(pruned.Read(name), original.Read(name).index_select(0, rows)));
                used.Add(name);
                continue;
            }
            string from = OriginalName(name, kept);
            Assert.True(original.Tensors.ContainsKey(from), $"{name}: no original {from}");
            Assert.Equal(original.Tensors[from].Dtype, entry.Dtype);
            Assert.True(Bytes(original, from).AsSpan().SequenceEqual(Bytes(pruned, name)), $"{name} differs from {from}");
            used.Add(from);
            identical++;
            if (entry.Dtype == SafeDtype.F8_E4M3) fp8++;
        }
        foreach (var name in original.Tensors.Keys.Where(n => !used.Contains(n)))
        {
            if (TensorOrder.LayerOf(name) == droppedLayer) continue;
            var expert = Regex.Match(name, @"^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.");
            bool removedExpert = expert.Success && !kept[int.Parse(expert.Groups[1].Value)].Contains(int.Parse(expert.Groups[2].Value));
            Assert.True(removedExpert, $"{name} is missing from the pruned checkpoint");
        }
        return (identical, fp8);
    }

    static string OriginalName(string name, Dictionary<int, IReadOnlyList<int>> kept)
    {
        var m = Regex.Match(name, @"^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(.+)$");
        if (!m.Success) return name;
        return $"model.layers.{m.Groups[1].Value}.mlp.experts.{kept[int.Parse(m.Groups[1].Value)][int.Parse(m.Groups[2].Value)]}.{m.Groups[3].Value}";
    }

    static byte[] Bytes(CheckpointDirectory checkpoint, string name)
    {
        using var stream = new MemoryStream();
        checkpoint.FileOf(name).CopyBytes(name, stream);
        return stream.ToArray();
    }

    static int[] Ints(JsonNode? node) => node!.AsArray().Select(v => (int)v!).ToArray();
}
