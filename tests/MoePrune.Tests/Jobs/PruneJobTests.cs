using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MoePrune.Criteria;
using MoePrune.IO;
using MoePrune.Jobs;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Tests.IO;
using MoePrune.Tests.Pruning;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Jobs;

/// <summary><c>prune</c> end to end: the written checkpoint, <c>pruning.json</c>, keep-maps, and refusals that write nothing.</summary>
[Collection(MoePrune.Tests.Cli.ConsoleCollection.Name)]
public class PruneJobTests(ITestOutputHelper output)
{
    /// <summary>The experts a uniform selection removes, computed here from scores.json: lowest d values (min), lower index first.</summary>
    static int[] NaiveRemoved(double[] values, int drop) =>
        Enumerable.Range(0, values.Length).OrderBy(e => values[e]).ThenBy(e => e).Take(drop).Order().ToArray();

    static int[] Ints(JsonNode? node) => node!.AsArray().Select(v => (int)v!).ToArray();

    [Theory]
    [InlineData("olmoe")]
    [InlineData("qwen2_moe")]
    public void PrunedCheckpointLoadsAndEqualsTheMaskedFullModel(string family)
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], family, seed: 3);
        var a = JobSupport.WriteTokens(tmp["a.txt"], 40, seed: 4);
        string[] calib = ["--calib", $"tokens:{a}", "--calib-sequences", "4", "--calib-seq-len", "12"];
        Assert.Equal(0, JobSupport.Cli(["score", modelDir, "--criteria", "min-ean", "--out", tmp["s.json"], "--json", .. calib]));
        Assert.Equal(0, JobSupport.Cli("prune", modelDir, "--criterion", "min-ean", "--drop", "3", "--scores", tmp["s.json"], "--out", tmp["p"], "--json"));
        Assert.Equal(0, JobSupport.Cli(["prune", modelDir, "--criterion", "ean", "--keep", "5", "--out", tmp["q"], "--json", .. calib]));

        var scores = JobSupport.Values(tmp["s.json"])["min-ean"];
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["p"], "pruning.json")))!;
        var onTheSpot = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["q"], "pruning.json")))!;
        var removed = new Dictionary<int, IReadOnlyList<int>>();
        foreach (var (layer, values) in scores)
        {
            var expected = NaiveRemoved(values, 3);
            Assert.Equal(expected, Ints(record["layers"]![layer]!["removed"]));
            Assert.Equal(Enumerable.Range(0, 8).Except(expected), Ints(record["layers"]![layer]!["kept"]));
            Assert.Equal(expected, Ints(onTheSpot["layers"]![layer]!["removed"]));
            Assert.Equal(values, record["layers"]![layer]!["scores"]!.AsArray().Select(v => (double)v!));
            removed[int.Parse(layer)] = expected;
        }
        Assert.Equal(family == "qwen2_moe" ? ["1", "2"] : new[] { "0", "1", "2" }, scores.Keys.Order());
        Assert.Equal("min-ean", (string)record["criterion"]!);
        Assert.Equal("min", (string)record["direction"]!);
        Assert.Equal(CheckpointFingerprint.Compute(modelDir), (string)record["input"]!["checkpoint_fingerprint"]!);
        var round = record["rounds"]!.AsArray().Single()!;
        Assert.Equal(1, (int)round["round"]!);
        Assert.True(JsonNode.DeepEquals(record["layers"]!["1"]!["removed"], round["layers"]!["1"]!["removed"]));
        Assert.Equal($"tokens:{a}", (string)record["calibration"]!["spec"]!);

        using var checkpoint = CheckpointDirectory.Open(tmp["p"]);
        var expertIds = checkpoint.Tensors.Keys.Select(k => Regex.Match(k, @"\.experts\.(\d+)\.")).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value)).Distinct().Order().ToArray();
        Assert.Equal([0, 1, 2, 3, 4], expertIds);

        using var full = ModelLoader.Load(modelDir);
        using var pruned = ModelLoader.Load(tmp["p"]);
        Assert.All(pruned.MoeLayers, l => Assert.Equal(5, l.NumExperts));
        foreach (var view in pruned.MoeLayers)
        {
            var kept = Enumerable.Range(0, 8).Except(removed[view.LayerIndex]).ToArray();
            var original = full.MoeLayers.Single(l => l.LayerIndex == view.LayerIndex);
            for (int slot = 0; slot < kept.Length; slot++)
                Assert.True(view.DownProj(slot).eq(original.DownProj(kept[slot])).all().item<bool>(), $"layer {view.LayerIndex} slot {slot}");
        }
        double diff = SurgerySupport.ExportVsMaskedOriginal(pruned, full, removed, seed: 5, JobSupport.Vocab);
        output.WriteLine($"{family}: max |pruned - masked full| = {diff:E2}");
        Assert.True(diff < 1e-5, $"max difference {diff}");
    }

    [Fact]
    public void KeepMapAndGlobalBudget()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "qwen2_moe", seed: 5);
        File.WriteAllText(tmp["keep.json"], """{"1": [0, 2, 3, 5, 6, 7], "2": [7, 1, 2, 3, 4, 6]}""");
        Assert.Equal(0, JobSupport.Cli("prune", modelDir, "--keep-map", tmp["keep.json"], "--out", tmp["p"], "--json"));
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["p"], "pruning.json")))!;
        Assert.Equal("keep-map", (string)record["method"]!);
        Assert.Equal([0, 2, 3, 5, 6, 7], Ints(record["layers"]!["1"]!["kept"]));
        Assert.Equal([1, 2, 3, 4, 6, 7], Ints(record["layers"]!["2"]!["kept"]));
        Assert.Equal([0, 5], Ints(record["layers"]!["2"]!["removed"]));
        using (var pruned = ModelLoader.Load(tmp["p"]))
            Assert.All(pruned.MoeLayers, l => Assert.Equal(6, l.NumExperts));

        // a global budget removes the same total but may spread it unevenly (weight criterion: no calibration)
        Assert.Equal(0, JobSupport.Cli("prune", modelDir, "--criterion", "max-rwn", "--drop", "2", "--global", "--protect", "1:0", "--out", tmp["g"], "--json"));
        var global = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["g"], "pruning.json")))!;
        var removedCounts = global["layers"]!.AsObject().Select(l => Ints(l.Value!["removed"]).Length).ToArray();
        Assert.Equal(4, removedCounts.Sum());
        Assert.DoesNotContain(0, Ints(global["layers"]!["1"]!["removed"]));
        using var loaded = ModelLoader.Load(tmp["g"]);
        Assert.Equal(removedCounts.Select(r => 8 - r), loaded.MoeLayers.Select(l => l.NumExperts));
    }

    [Fact]
    public void OneRoundEqualsTheDirectExportOfTheSameSelection()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "mixtral", seed: 9);
        var a = JobSupport.WriteTokens(tmp["a.txt"], 40, seed: 2);
        var calibration = new CalibrationSettings { Spec = $"tokens:{a}", Sequences = 4, Length = 12 };
        ScoreJob.Run(new ScoreRequest { ModelDir = modelDir, OutFile = tmp["s.json"], Criteria = CriterionSpec.ParseList("min-reap"), Calibration = calibration });
        var request = new PruneRequest
        {
            ModelDir = modelDir, OutDir = tmp["p"], Criterion = "min-reap", ScoresFile = tmp["s.json"], Selection = new SelectionRequest { Drop = 2 },
        };
        PruneJob.Run(request);
        // the same round with a hook that builds the pruned model in memory: exported from that model instead
        int hooked = 0;
        PruneJob.Run(request with { OutDir = tmp["q"] }, hooks: new RoundHooks { Evaluate = r => { hooked += r.Model.MoeLayers.Count; return null; } });
        Assert.Equal(3, hooked);

        // independent: the selection computed here from scores.json, exported straight from the loaded model
        var scores = JobSupport.Values(tmp["s.json"])["min-reap"];
        var kept = scores.ToDictionary(kv => int.Parse(kv.Key),
            kv => (IReadOnlyList<int>)Enumerable.Range(0, 8).Except(NaiveRemoved(kv.Value, 2)).ToList());
        using (var model = ModelLoader.Load(modelDir))
            ExpertSurgery.Export(model, ExpertPlan.Keep(kept), tmp["direct"], copyAuxFrom: modelDir);
        foreach (var dir in new[] { tmp["p"], tmp["q"] })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(tmp["direct"], "model.safetensors")), File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
            Assert.Equal(File.ReadAllText(Path.Combine(tmp["direct"], "config.json")), File.ReadAllText(Path.Combine(dir, "config.json")));
        }
    }

    [Fact]
    public void NaeeSubsetsOfScoreAreReusedByPrune()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "olmoe", seed: 12);
        var a = JobSupport.WriteTokens(tmp["a.txt"], 40, seed: 6);
        string[] calib = ["--calib", $"tokens:{a}", "--calib-sequences", "4", "--calib-seq-len", "12"];
        var (code, stdout, _) = JobSupport.CliOutput(["score", modelDir, "--criteria", "naee,min-ean", "--naee-keep", "5", "--out", tmp["s.json"], "--json", .. calib]);
        Assert.Equal(0, code);
        Assert.Equal(["min-ean", "naee"], JsonNode.Parse(stdout)!["criteria"]!.AsArray().Select(c => (string)c!));
        Assert.Equal(0, JobSupport.Cli("prune", modelDir, "--criterion", "naee", "--keep", "5", "--scores", tmp["s.json"], "--out", tmp["p"], "--json"));
        Assert.Equal(0, JobSupport.Cli(["prune", modelDir, "--criterion", "naee", "--keep", "5", "--out", tmp["q"], "--json", .. calib]));
        var stored = JsonNode.Parse(File.ReadAllText(tmp["s.json"]))!["naee"]!;
        var reused = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["p"], "pruning.json")))!;
        var searched = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["q"], "pruning.json")))!;
        foreach (var layer in new[] { "0", "1", "2" })
        {
            Assert.Equal(Ints(stored[layer]!["best"]!["experts"]), Ints(reused["layers"]![layer]!["kept"]));
            Assert.Equal(Ints(stored[layer]!["best"]!["experts"]), Ints(searched["layers"]![layer]!["kept"]));
        }
        Assert.Equal("naee", (string)reused["method"]!);
        var (wrong, _, err) = JobSupport.CliOutput("prune", modelDir, "--criterion", "naee", "--keep", "4", "--scores", tmp["s.json"], "--out", tmp["r"]);
        Assert.Equal(1, wrong);
        Assert.Equal($"error: {tmp["s.json"]}: layer 0: naee searched subsets of 5 experts, this selection keeps 4; score again keeping 4",
                     Assert.Single(JobSupport.Lines(err)));
        Assert.False(Directory.Exists(tmp["r"]));
    }

    [Fact]
    public void BadInputsFailWithOneLineAndWriteNothing()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "qwen2_moe");
        var other = JobSupport.WriteModel(tmp["other"], "olmoe");                    // another structure, another hash
        var a = JobSupport.WriteTokens(tmp["a.txt"], 30);
        File.WriteAllText(tmp["empty.txt"], "\n");
        File.WriteAllText(tmp["dense.json"], """{"0": [0, 1], "1": [0, 1, 2, 3]}""");
        Assert.Equal(0, JobSupport.Cli("score", other, "--criteria", "max-rwn", "--out", tmp["other.json"], "--json"));
        string[] calib = ["--calib", $"tokens:{a}", "--calib-sequences", "2", "--calib-seq-len", "8"];
        var cases = new (string Name, string[] Args)[]
        {
            ("drop all", ["--criterion", "min-ean", "--drop", "8", .. calib]),
            ("keep below top-k", ["--criterion", "min-ean", "--keep", "1", .. calib]),
            ("unknown criterion", ["--criterion", "min-magic", "--drop", "1", .. calib]),
            ("empty calibration", ["--criterion", "min-ean", "--drop", "1", "--calib", $"tokens:{tmp["empty.txt"]}"]),
            ("too few tokens", ["--criterion", "min-ean", "--drop", "1", "--calib", $"tokens:{a}", "--calib-sequences", "500", "--calib-seq-len", "64"]),
            ("dense layer in keep-map", ["--keep-map", tmp["dense.json"]]),
            ("scores of another checkpoint", ["--criterion", "max-rwn", "--drop", "1", "--scores", tmp["other.json"]]),
            ("naee with a global budget", ["--criterion", "naee", "--drop", "1", "--global", .. calib]),
            ("no drop/keep/ratio", ["--criterion", "max-rwn"]),
            ("text source, no tokenizer", ["--criterion", "min-ean", "--drop", "1", "--calib", "wordnet"]),
        };
        foreach (var (name, args) in cases)
        {
            var outDir = tmp["out-" + name.Replace(' ', '-')];
            int code = JobSupport.Cli(["prune", modelDir, "--out", outDir, .. args]);
            output.WriteLine($"{name}: exit {code}");
            Assert.True(code == 1, $"{name}: exit code {code}");
            Assert.False(Directory.Exists(outDir), $"{name}: output directory was created");
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path, ".*"));                 // no temporary directories left
        Assert.Equal(1, JobSupport.Cli("score", modelDir, "--criteria", "min-ean,bogus", "--out", tmp["x.json"]));
        Assert.False(File.Exists(tmp["x.json"]));
    }
}
