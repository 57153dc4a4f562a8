using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Tests.IO;
using MoePrune.Tests.Pruning;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Jobs;

/// <summary><c>merge</c> end to end through the CLI: exported checkpoints against models built here, merging.json, refusals.</summary>
[Collection(MoePrune.Tests.Cli.ConsoleCollection.Name)]
public class MergeJobTests(ITestOutputHelper output)
{
    public static TheoryData<string> Families => new() { "mixtral", "qwen2_moe", "qwen3_moe", "olmoe" };

    static int[] SparseLayers(string family) => family == "qwen2_moe" ? [1, 2] : [0, 1, 2];

    static readonly int[][][] MapGroups =
    [
        [[0, 3], [1], [2, 5, 6], [4, 7]],
        [[0, 1, 2, 3], [4], [5], [6, 7]],
        [[0, 7], [1, 6], [2, 5], [3, 4]],
    ];

    static string[] Calibration(TempDir tmp, int seed) =>
        ["--calib", $"tokens:{JobSupport.WriteTokens(tmp[$"calib-{seed}.txt"], 40, seed: seed)}", "--calib-sequences", "6", "--calib-seq-len", "12"];

    double MaxLogitDiff(MoeForCausalLM a, MoeForCausalLM b, int seed)
    {
        var (ids, mask) = SurgerySupport.PaddedBatch(seed, JobSupport.Vocab);
        using var noGrad = no_grad();
        var x = SurgerySupport.RealRows(a.Logits(ids, mask), mask);                          // (N, V)
        var y = SurgerySupport.RealRows(b.Logits(ids, mask), mask);                          // (N, V)
        return (x - y).abs().max().item<float>();
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void GroupsMapWithUniformMergeEqualsAModelAveragedHere(string family)
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], family, seed: 21);
        var layers = SparseLayers(family);
        var map = layers.Select((l, i) => (l, MapGroups[i])).ToDictionary(x => x.l, x => x.Item2);
        var file = MergeSupport.GroupsMap(tmp["groups.json"], map);
        Assert.Equal(0, JobSupport.Cli("merge", modelDir, "--groups-map", file, "--merge", "uniform", "--out", tmp["g"], "--json"));

        using var full = ModelLoader.Load(modelDir);
        using var merged = ModelLoader.Load(tmp["g"]);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["g"], "config.json")))!;
        Assert.Equal(4, (int)config[full.Config.Family.ExpertCountKey]!);
        Assert.Equal(layers, merged.MoeLayers.Select(v => v.LayerIndex));
        foreach (var view in merged.MoeLayers)
        {
            Assert.Equal(4, view.NumExperts);
            Assert.Equal([4L, 32], view.RouterWeight.shape);
            Assert.Equal([24L, 32], view.GateProj(3).shape);
            Assert.Equal([32L, 24], view.DownProj(3).shape);
        }
        using var reference = MergeSupport.Weighted(full, 4, map.ToDictionary(kv => kv.Key, kv => MergeSupport.Uniform(kv.Value)));
        double diff = MaxLogitDiff(merged, reference, 5);
        output.WriteLine($"{family}: max |merged - averaged here| logits = {diff:E2}");
        Assert.True(diff < 1e-5, $"max difference {diff}");

        var record = MergeSupport.Record(tmp["g"]);
        Assert.Equal("merge", (string)record["method"]!);
        Assert.Equal(CheckpointFingerprint.Compute(modelDir), (string)record["input"]!["checkpoint_fingerprint"]!);
        foreach (var (layer, groups) in map)
        {
            var node = record["layers"]![layer.ToString()]!;
            Assert.Equal(groups.Select(g => g.ToArray()), node["groups"]!.AsArray().Select(g => g!.AsArray().Select(e => (int)e!).ToArray()));
            var round = record["rounds"]![0]!["layers"]![layer.ToString()]!;
            Assert.Equal(groups.Select(g => g.Select(_ => 1.0 / g.Length)), round["coefficients"]!.AsArray().Select(g => g!.AsArray().Select(e => (double)e!)));
            Assert.Null(round["similarity"]);                                                 // none asked for
        }
    }

    public static TheoryData<string, string[]> ScoredMerges => new()
    {
        { "mixtral", ["--similarity", "cka", "--merge", "frequency", "--groups", "6"] },
        { "qwen2_moe", ["--similarity", "router-logits", "--merge", "frequency", "--ratio", "0.25"] },
        { "qwen3_moe", ["--similarity", "surrogate", "--merge", "learned", "--learned-steps", "4", "--keep", "5"] },
        { "olmoe", ["--preset", "hc-smoe", "--groups", "4"] },
    };

    [Theory]
    [MemberData(nameof(ScoredMerges))]
    public void MergedCheckpointLoadsAndMergingJsonAgreesWithItsTensors(string family, string[] args)
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], family, seed: 22);
        Assert.Equal(0, JobSupport.Cli(["merge", modelDir, .. args, .. Calibration(tmp, 3), "--out", tmp["x"], "--json"]));
        var record = MergeSupport.Record(tmp["x"]);
        var round = record["rounds"]![0]!;
        var layers = MergeSupport.Layers(round);
        int r = layers.Values.First().Groups.Length;
        using var full = ModelLoader.Load(modelDir);
        using var merged = ModelLoader.Load(tmp["x"]);
        Assert.Equal(SparseLayers(family), layers.Keys.Order());
        Assert.All(merged.MoeLayers, v => Assert.Equal(r, v.NumExperts));

        // every slot equals Σ α·expert over its group as merging.json states, recomputed here in float64
        using var reference = MergeSupport.Weighted(full, r, layers);
        double maxTensor = 0;
        foreach (var view in merged.MoeLayers)
        {
            var expected = reference.MoeLayers.Single(v => v.LayerIndex == view.LayerIndex);
            maxTensor = Math.Max(maxTensor, (view.RouterWeight - expected.RouterWeight).abs().max().item<float>());
            for (int n = 0; n < r; n++)
                foreach (var (a, b) in new[] { (view.GateProj(n), expected.GateProj(n)), (view.UpProj(n), expected.UpProj(n)), (view.DownProj(n), expected.DownProj(n)) })
                    maxTensor = Math.Max(maxTensor, (a - b).abs().max().item<float>());
        }
        double logits = MaxLogitDiff(merged, reference, 6);
        output.WriteLine($"{family} {string.Join(' ', args)}: max tensor diff {maxTensor:E2}, max logit diff {logits:E2}");
        Assert.True(maxTensor < 1e-6 && logits < 1e-5);

        foreach (var (layer, (groups, alphas, scales)) in layers)
        {
            var node = round["layers"]![layer.ToString()]!;
            Assert.Equal(8, node["similarity"]!["matrix"]!.AsArray().Count);
            Assert.Equal(groups.OrderBy(g => g[0]).Select(g => g[0]), groups.Select(g => g[0]));          // slot n = n-th smallest lowest index
            Assert.Equal(Enumerable.Range(0, 8), groups.SelectMany(g => g).Order());
            foreach (var a in alphas) Assert.Equal(1.0, a.Sum(), 6);                                  // learned: a float32 softmax
            if (node["routed_counts"] is JsonArray c && args.Contains("frequency") || args.Contains("hc-smoe"))
            {
                var counts = node["routed_counts"]!.AsArray().Select(v => (double)v!).ToArray();
                for (int n = 0; n < groups.Length; n++)
                {
                    double total = groups[n].Sum(e => counts[e]);
                    for (int i = 0; i < groups[n].Length; i++)
                        Assert.Equal(total > 0 ? counts[groups[n][i]] / total : 1.0 / groups[n].Length, alphas[n][i], 12);
                }
            }
            if (args.Contains("learned"))
                Assert.True(node["learned"]!["held_out_rows"]!.GetValue<int>() > 0);
        }
    }

    [Fact]
    public void SingletonGroupsMapReturnsTheInputModelUnchanged()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "qwen2_moe", seed: 23);
        var singletons = Enumerable.Range(0, 8).Select(e => new[] { e }).ToArray();
        var file = MergeSupport.GroupsMap(tmp["groups.json"], new Dictionary<int, int[][]> { [1] = singletons, [2] = singletons });
        foreach (var method in new[] { "uniform", "frequency", "max-frequency", "learned" })
        {
            string outDir = tmp["s-" + method];
            Assert.Equal(0, JobSupport.Cli(["merge", modelDir, "--groups-map", file, "--merge", method, "--learned-steps", "3", .. Calibration(tmp, 4), "--out", outDir, "--json"]));
            var before = MergeSupport.TensorBytes(modelDir);
            var after = MergeSupport.TensorBytes(outDir);
            Assert.Equal(before.Keys.Order(), after.Keys.Order());
            foreach (var (name, bytes) in before) Assert.True(bytes.AsSpan().SequenceEqual(after[name]), $"{method}: {name} changed");
            Assert.Equal(8, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")))!["num_experts"]!);
            output.WriteLine($"{method}: {after.Count} tensors byte-identical");
        }
    }

    [Fact]
    public void MaxFrequencyEqualsDroppingTheOthersWithPrune()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "olmoe", seed: 24);
        var calib = Calibration(tmp, 5);
        int[][] groups = [[0, 1], [2], [3, 4, 5], [6, 7]];
        var file = MergeSupport.GroupsMap(tmp["groups.json"], new Dictionary<int, int[][]> { [0] = groups, [1] = groups, [2] = groups });
        Assert.Equal(0, JobSupport.Cli(["merge", modelDir, "--groups-map", file, "--merge", "max-frequency", .. calib, "--out", tmp["x"], "--json"]));

        // independent: the routed frequency from `score`, the most-routed member of each group (lower index on ties), pruned with a keep-map
        Assert.Equal(0, JobSupport.Cli(["score", modelDir, "--criteria", "frequency", .. calib, "--out", tmp["s.json"], "--json"]));
        var frequency = JobSupport.Values(tmp["s.json"]).Single().Value;
        var kept = frequency.ToDictionary(kv => int.Parse(kv.Key), kv => groups.Select(g => g.OrderByDescending(e => kv.Value[e]).ThenBy(e => e).First()).ToArray());
        File.WriteAllText(tmp["keep.json"], new JsonObject(kept.Select(kv => KeyValuePair.Create(kv.Key.ToString(), (JsonNode?)new JsonArray(kv.Value.Select(e => (JsonNode)e).ToArray())))).ToJsonString());
        Assert.Equal(0, JobSupport.Cli("prune", modelDir, "--keep-map", tmp["keep.json"], "--out", tmp["p"], "--json"));

        using var byMerge = ModelLoader.Load(tmp["x"]);
        using var byPrune = ModelLoader.Load(tmp["p"]);
        foreach (var view in byMerge.MoeLayers)
        {
            var pruned = byPrune.MoeLayers.Single(v => v.LayerIndex == view.LayerIndex);
            var order = kept[view.LayerIndex].Order().ToList();                                 // prune keeps ascending original order
            for (int n = 0; n < groups.Length; n++)
            {
                int slot = order.IndexOf(kept[view.LayerIndex][n]);
                foreach (var (a, b) in new[] { (view.GateProj(n), pruned.GateProj(slot)), (view.UpProj(n), pruned.UpProj(slot)),
                                               (view.DownProj(n), pruned.DownProj(slot)), (view.RouterWeight[n], pruned.RouterWeight[slot]) })
                    Assert.True(a.eq(b).all().item<bool>(), $"layer {view.LayerIndex} group {n}");
            }
        }
        double diff = MaxLogitDiff(byMerge, byPrune, 7);
        output.WriteLine($"kept {string.Join(" ", kept.Select(kv => $"{kv.Key}:[{string.Join(",", kv.Value)}]"))}; max logit diff merge vs prune {diff:E2}");
        Assert.True(diff < 1e-6);
    }

    [Fact]
    public void BadInputsFailWithOneLineNamingTheOptionAndWriteNothing()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "qwen2_moe", seed: 25);
        var calib = Calibration(tmp, 6);
        var ok = new[] { new[] { 0, 1 }, [2, 3], [4, 5], [6, 7] };
        string Map(string name, Dictionary<int, int[][]> map) => MergeSupport.GroupsMap(tmp[name], map);
        var missing = Map("missing.json", new() { [1] = [[0, 1], [2, 3], [4, 5], [6]], [2] = ok });
        var twice = Map("twice.json", new() { [1] = [[0, 1], [1, 2, 3], [4, 5], [6, 7]], [2] = ok });
        var dense = Map("dense.json", new() { [0] = ok, [1] = ok, [2] = ok });
        var uneven = Map("uneven.json", new() { [1] = ok });
        Directory.CreateDirectory(tmp["full"]);
        File.WriteAllText(Path.Combine(tmp["full"], "keep.txt"), "x");
        var cases = new (string Name, string Expect, string[] Args)[]
        {
            ("r below top-k", "--groups 1: layer 1: 1 merged experts are fewer than top-k = 2", ["--groups", "1", .. calib]),
            ("r not below E", "--keep 8: layer 1: 8 merged experts do not reduce its 8 experts", ["--keep", "8", .. calib]),
            ("ratio below top-k", "--ratio 0.9: layer 1: 1 merged experts", ["--ratio", "0.9", .. calib]),
            ("missing expert", $"{missing}: layer 1: expert(s) 7 are in no group", ["--groups-map", missing]),
            ("repeated expert", $"{twice}: layer 1: expert(s) 1 appear more than once", ["--groups-map", twice]),
            ("dense layer", $"{dense}: layer 0 is a dense layer", ["--groups-map", dense]),
            ("uneven counts", $"{uneven}: layers would end with different expert counts", ["--groups-map", uneven]),
            ("no map file", $"--groups-map {tmp["none.json"]}: file not found", ["--groups-map", tmp["none.json"]]),
            ("no count", "merge: give exactly one of --groups, --keep, --ratio or --groups-map", ["--similarity", "weights"]),
            ("two counts", "merge: give exactly one of", ["--groups", "6", "--groups-map", dense]),
            ("preset and similarity", "--preset m-smoe: sets the similarity, grouping and merge itself; do not combine it with --similarity", ["--preset", "m-smoe", "--similarity", "cka", "--groups", "6"]),
            ("unknown similarity", "--similarity: unknown similarity 'magic'", ["--similarity", "magic", "--groups", "6"]),
            ("unknown merge", "--merge: unknown merge method 'median'", ["--merge", "median", "--groups", "6"]),
            ("mixup of weights", "--mixup: mixes the inputs of the data-centric similarities", ["--similarity", "weights", "--mixup", "8", "--groups", "6"]),
            ("gguf folder missing", $"{tmp["no/x.gguf"]}: the folder", ["--similarity", "weights", "--groups", "6", "--gguf", tmp["no/x.gguf"]]),
            ("gguf of a dense layer", "dense", ["--similarity", "weights", "--groups", "6", "--gguf", tmp["x.gguf"]]),
        };
        foreach (var (name, expect, args) in cases)
        {
            var outDir = tmp["out-" + name.Replace(' ', '-')];
            var (code, _, err) = JobSupport.CliOutput(["merge", modelDir, "--out", outDir, .. args]);
            output.WriteLine($"{name}: exit {code}: {err.Trim()}");
            Assert.True(code == 1, $"{name}: exit code {code}");
            var line = Assert.Single(JobSupport.Lines(err));
            Assert.StartsWith("error: ", line);
            Assert.Contains(expect, line);
            Assert.False(Directory.Exists(outDir), $"{name}: output directory was created");
        }
        var (fullCode, _, fullErr) = JobSupport.CliOutput("merge", modelDir, "--similarity", "weights", "--groups", "6", "--out", tmp["full"]);
        Assert.Equal(1, fullCode);
        Assert.Contains($"{tmp["full"]}: directory exists and is not empty (--force replaces it)", Assert.Single(JobSupport.Lines(fullErr)));
        Assert.Equal(["keep.txt"], Directory.EnumerateFileSystemEntries(tmp["full"]).Select(Path.GetFileName));
        Assert.False(File.Exists(tmp["x.gguf"]));
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path, ".*"));                     // no temporary directories left
    }
}
