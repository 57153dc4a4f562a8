using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Jobs;
using MoePrune.Jobs.Strategies;
using MoePrune.Models;
using MoePrune.Observation;
using MoePrune.Pruning;
using MoePrune.Tests.IO;
using MoePrune.Tests.Pruning;
using Xunit;
using Xunit.Abstractions;
using static MoePrune.Tests.Jobs.StrategySupport;
using static TorchSharp.torch;

namespace MoePrune.Tests.Jobs;

/// <summary>
/// One-shot, iterative and lottery pruning through <see cref="StrategyJob"/> on tiny models with near-duplicate experts:
/// each round's cut against an independent max-EWS recomputation on that round's model, the lineage against the
/// original model with the named experts masked, and a lottery killed during a fine-tune resumed to the same bytes.
/// </summary>
[Collection(MoePrune.Tests.Cli.ConsoleCollection.Name)]
public class StrategyJobTests(ITestOutputHelper output)
{
    /// <summary>Flattened [gate | up | down] of an expert, in double.</summary>
    static double[] Flat(IMoeLayerView v, int e) =>
        new[] { v.GateProj(e), v.UpProj(e), v.DownProj(e) }.SelectMany(t => t.to(ScalarType.Float64).reshape(-1).data<double>().ToArray()).ToArray();

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    static double Cos(double[] a, double[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }

    /// <summary>Max-EWS written out: the <paramref name="count"/> slots with the largest Σ cos to the other slots (ties: lower slot).</summary>
    static int[] NaiveMaxEws(IMoeLayerView view, int count)
    {
        var w = Enumerable.Range(0, view.NumExperts).Select(e => Flat(view, e)).ToArray();
        var score = Enumerable.Range(0, w.Length).Select(p => Enumerable.Range(0, w.Length).Where(q => q != p).Sum(q => Cos(w[p], w[q]))).ToArray();
        return Enumerable.Range(0, w.Length).OrderByDescending(p => score[p]).ThenBy(p => p).Take(count).Order().ToArray();
    }

    [Fact]
    public void IterativeWithOneRoundEqualsOneShot()
    {
        using var tmp = new TempDir();
        var model = NearDuplicates(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["t.txt"], 40);
        var iterative = Request(model, tokens, tokens, PruneStrategy.Iterative, drop: 2) with { PerRound = 2, OutDir = tmp["it"] };
        var result = StrategyJob.Run(iterative);
        Assert.Single(result.Rounds);
        PruneJob.Run(new PruneRequest
        {
            ModelDir = model, OutDir = tmp["os"], Criterion = "max-ews", Selection = new SelectionRequest { Drop = 2 },
            Calibration = iterative.Calibration,
        });
        var a = TensorBytes(tmp["it"]);
        var b = TensorBytes(tmp["os"]);
        Assert.Equal(b.Keys.Order(), a.Keys.Order());
        Assert.All(b, kv => Assert.Equal(kv.Value, a[kv.Key]));
        var ra = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["it"], "pruning.json")))!;
        var rb = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["os"], "pruning.json")))!;
        foreach (var (layer, l) in rb["layers"]!.AsObject())
            Assert.Equal(Ints(l!["removed"]), Ints(ra["layers"]![layer]!["removed"]));
        output.WriteLine($"{a.Count} tensors byte-identical; removed {string.Join("; ", rb["layers"]!.AsObject().Select(l => $"{l.Key}: {string.Join(",", Ints(l.Value!["removed"]))}"))}");
    }

    [Fact]
    public void ReestimationMattersWithNearDuplicatePairsAndEachRoundMatchesARecomputation()
    {
        using var tmp = new TempDir();
        var modelDir = NearDuplicates(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["t.txt"], 40);
        var oneShot = StrategyJob.Run(Request(modelDir, tokens, tokens, PruneStrategy.OneShot, drop: 2) with { OutDir = tmp["os"] });
        var iterative = StrategyJob.Run(Request(modelDir, tokens, tokens, PruneStrategy.Iterative, drop: 3) with { OutDir = tmp["it"] });
        Assert.Equal(3, iterative.Rounds.Count);

        using var original = ModelLoader.Load(modelDir);
        int differ = 0;
        var removed = new Dictionary<int, IReadOnlyList<int>>();
        foreach (var view in original.MoeLayers)
        {
            string l = view.LayerIndex.ToString();
            var shot = Ints(oneShot.Rounds[0]["layers"]![l]!["removed"]);
            Assert.Equal(NaiveMaxEws(view, 2), shot);
            // each round: the naive criterion over the experts still alive (the round's model holds exactly their original weights)
            var alive = Enumerable.Range(0, view.NumExperts).ToList();
            var cuts = new List<int>();
            for (int k = 0; k < 3; k++)
            {
                var w = alive.ToDictionary(e => e, e => Flat(view, e));
                int expected = alive.OrderByDescending(p => alive.Where(q => q != p).Sum(q => Cos(w[p], w[q]))).ThenBy(p => p).First();
                var round = iterative.Rounds[k]["layers"]![l]!;
                Assert.Equal([expected], Ints(round["removed"]));
                Assert.Equal([alive.IndexOf(expected)], Ints(round["removed_slots"]));
                cuts.Add(expected);
                alive.Remove(expected);
            }
            bool different = !cuts.Take(2).Order().SequenceEqual(shot);
            differ += different ? 1 : 0;
            output.WriteLine($"layer {l}: one-shot drops {string.Join(",", shot)}; iterative rounds drop {string.Join(",", cuts)}{(different ? " (different)" : "")}");
            removed[view.LayerIndex] = cuts;
        }
        Assert.True(differ > 0, "re-estimation should change the choice in some layer");

        // the lineage after three rounds names the right originals: the export is the original with exactly those experts masked
        double diff = SurgerySupport.ExportVsMaskedOriginal(tmp["it"], original, removed, seed: 7, JobSupport.Vocab);
        output.WriteLine($"max |export after 3 rounds − original with the lineage's experts masked| = {diff:E2}");
        Assert.True(diff < 1e-5, $"max difference {diff}");
        Assert.All(iterative.Rounds, r => Assert.NotNull(r["evaluation"]?["perplexity"]));
    }

    [Fact]
    public void LotteryRoundsRescoreTheFineTunedModelAndRoutersOnlyKeepTheOriginalExperts()
    {
        using var tmp = new TempDir();
        var modelDir = NearDuplicates(tmp["m"]);
        var tokens = ChainTokens(tmp["t.txt"]);
        var request = Request(modelDir, tokens, tokens, PruneStrategy.Lottery, drop: 3) with { OutDir = tmp["out"], WorkDir = tmp["w"], Train = "routers" };
        var result = StrategyJob.Run(request);
        Assert.Equal(3, result.Rounds.Count);
        for (int k = 0; k < 3; k++)
        {
            var ft = result.Rounds[k]["finetune"]!;
            Assert.Equal(3L * 4 * 16 << k, (long)ft["tokens"]!);                          // the budget doubles every round
            Assert.Equal("routers", (string)ft["train"]!);
            Assert.NotNull(ft["before"]?["perplexity"]);
        }
        // round k ≥ 2 chose by max-EWS on the model round k−1 saved (the fine-tuned one)
        for (int k = 2; k <= 3; k++)
        {
            using var saved = ModelLoader.Load(Path.Combine(tmp["w"], $"round-{k - 1}", "model"));
            foreach (var view in saved.MoeLayers)
                Assert.Equal(NaiveMaxEws(view, 1), Ints(result.Rounds[k - 1]["layers"]![view.LayerIndex.ToString()]!["removed_slots"]));
        }
        // routers-only: every kept expert of the export is the original expert the lineage names, bit for bit
        using var original = ModelLoader.Load(modelDir);
        using var pruned = ModelLoader.Load(tmp["out"]);
        int compared = 0;
        foreach (var (view, before) in pruned.MoeLayers.Zip(original.MoeLayers))
            for (int slot = 0; slot < view.NumExperts; slot++)
            {
                int from = result.Lineage.Originals(view.LayerIndex, slot).Single();
                Assert.True(Same(view.DownProj(slot), before.DownProj(from)) && Same(view.GateProj(slot), before.GateProj(from))
                            && Same(view.UpProj(slot), before.UpProj(from)), $"layer {view.LayerIndex} slot {slot} ≠ original {from}");
                compared++;
            }
        output.WriteLine($"{compared} kept experts equal the originals the lineage names; rounds: " +
                         string.Join("; ", result.Rounds.Select(r => $"{r["finetune"]!["loss_first"]:F3}→{r["finetune"]!["loss_final"]:F3}")));
        Assert.False(Directory.EnumerateFiles(tmp["w"], "checkpoint.safetensors", SearchOption.AllDirectories).Any());
    }

    [Fact]
    public void ALotteryKilledDuringRoundTwoResumesToTheSameBytes()
    {
        using var tmp = new TempDir();
        var modelDir = NearDuplicates(tmp["m"]);
        var tokens = ChainTokens(tmp["t.txt"]);
        var request = Request(modelDir, tokens, tokens, PruneStrategy.Lottery, drop: 3);
        StrategyJob.Run(request with { OutDir = tmp["a"], WorkDir = tmp["wa"] });

        var killed = Assert.Throws<OperationCanceledException>(() => StrategyJob.Run(request with { OutDir = tmp["b"], WorkDir = tmp["wb"] },
            step: (round, s) => { if (round == 2 && s.Step == 5) throw new OperationCanceledException("killed"); }));
        Assert.False(Directory.Exists(tmp["b"]));
        Assert.False(File.Exists(Path.Combine(tmp["wb"], "round-2", RunFolder.RecordFile)));
        Assert.True(File.Exists(Path.Combine(tmp["wb"], "finetune-2", "checkpoint.safetensors")));  // step 4 of round 2
        int resumedSteps = 0;
        var resumed = StrategyJob.Run(request with { OutDir = tmp["b"], WorkDir = tmp["wb"], Resume = true },
                                      step: (round, _) => { if (round == 2) resumedSteps++; });
        output.WriteLine($"round 2 resumed at step 4 and ran {resumedSteps} steps; losses {resumed.Rounds[1]["finetune"]!["cross_entropy"]!.ToJsonString()}");
        Assert.Equal(2, resumedSteps);                                                   // 6 steps, 4 before the kill
        Assert.Equal(File.ReadAllBytes(Path.Combine(tmp["a"], "model.safetensors")), File.ReadAllBytes(Path.Combine(tmp["b"], "model.safetensors")));
        Assert.Equal(File.ReadAllText(Path.Combine(tmp["a"], "config.json")), File.ReadAllText(Path.Combine(tmp["b"], "config.json")));
        var a = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["a"], "pruning.json")))!;
        var b = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["b"], "pruning.json")))!;
        Assert.True(JsonNode.DeepEquals(a["layers"], b["layers"]));
        Assert.True(JsonNode.DeepEquals(a["rounds"]![1]!["finetune"]!["cross_entropy"], b["rounds"]![1]!["finetune"]!["cross_entropy"]));
        Assert.True(JsonNode.DeepEquals(a["rounds"]![2]!["evaluation"]!["perplexity"], b["rounds"]![2]!["evaluation"]!["perplexity"]));
    }

    [Fact]
    public void RouterRecalibrationChangesOnlyTheRoutersOfTheOneShotCut()
    {
        using var tmp = new TempDir();
        var modelDir = NearDuplicates(tmp["m"]);
        var tokens = ChainTokens(tmp["t.txt"]);
        var request = Request(modelDir, tokens, tokens, PruneStrategy.OneShot, drop: 2) with { OutDir = tmp["r"], Recalibrate = Recalibration.Routers };
        var result = StrategyJob.Run(request);
        Assert.Equal("routers", (string)result.Rounds[0]["finetune"]!["train"]!);
        Assert.Equal("lm", (string)result.Rounds[0]["finetune"]!["objective"]!);
        PruneJob.Run(new PruneRequest { ModelDir = modelDir, OutDir = tmp["os"], Criterion = "max-ews", Selection = new SelectionRequest { Drop = 2 }, Calibration = request.Calibration });
        var recalibrated = TensorBytes(tmp["r"]);
        var cut = TensorBytes(tmp["os"]);
        var changed = cut.Keys.Where(k => !cut[k].SequenceEqual(recalibrated[k])).Order().ToList();
        output.WriteLine($"changed: {string.Join(", ", changed)}");
        Assert.Equal(cut.Keys.Where(k => k.EndsWith(".block_sparse_moe.gate.weight")).Order(), changed);

        var distill = StrategyJob.Run(request with { OutDir = tmp["d"], Recalibrate = Recalibration.Distill });
        Assert.Equal("distill", (string)distill.Rounds[0]["finetune"]!["objective"]!);
        Assert.True((double)distill.Rounds[0]["evaluation"]!["kl"]!["mean"]! >= 0);
    }

    [Fact]
    public void TheCliRunsALotteryAndResumesItsFinishedRunFolder()
    {
        using var tmp = new TempDir();
        var modelDir = NearDuplicates(tmp["m"]);
        var tokens = ChainTokens(tmp["t.txt"]);
        string[] Args(string threads) => ["prune", modelDir, "--criterion", "max-ews", "--drop", "2", "--strategy", "lottery", "--finetune-tokens", "64",
            "--finetune-data", "tokens:" + tokens, "--finetune-seq-len", "16", "--finetune-batch-size", "4", "--calib", "tokens:" + tokens,
            "--calib-sequences", "8", "--calib-seq-len", "16", "--eval-token-file", tokens, "--work", tmp["w"], "--threads", threads, "--json"];
        var (code, stdout, err) = JobSupport.CliOutput([.. Args("1"), "--out", tmp["o"]]);
        output.WriteLine(err);
        Assert.Equal(0, code);
        var json = JsonNode.Parse(stdout)!;
        Assert.Equal("lottery", (string)json["strategy"]!);
        Assert.Equal(2, json["rounds"]!.AsArray().Count);
        Assert.Equal(64, (int)json["rounds"]![0]!["finetune"]!["tokens"]!);
        Assert.Equal(128, (int)json["rounds"]![1]!["finetune"]!["tokens"]!);
        Assert.Equal(1, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["w"], RunFolder.SettingsFile)))!["settings"]!["threads"]!);
        var (again, _, err2) = JobSupport.CliOutput([.. Args("1"), "--out", tmp["o2"], "--resume"]);          // every round finished: only the export
        Assert.Equal(0, again);
        Assert.Equal(File.ReadAllBytes(Path.Combine(tmp["o"], "model.safetensors")), File.ReadAllBytes(Path.Combine(tmp["o2"], "model.safetensors")));
        var (other, _, err3) = JobSupport.CliOutput([.. Args("2"), "--out", tmp["o3"], "--resume"]);
        output.WriteLine(err3);
        Assert.Equal(1, other);
        Assert.Contains("threads", err3);
    }

    [Fact]
    public void BadStrategySettingsFailInOneLineBeforeAnythingIsWritten()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "mixtral", seed: 2);
        var tokens = JobSupport.WriteTokens(tmp["t.txt"], 40);
        var cases = new (string[] Args, string Message)[]
        {
            (["--strategy", "iterative", "--recalibrate", "routers"], "--recalibrate: recalibrates a one-shot cut"),
            (["--strategy", "lottery", "--global"], "--global: only with the one-shot strategy"),
            (["--strategy", "sometimes"], "--strategy: 'sometimes' is not a strategy"),
            (["--strategy", "lottery", "--per-round", "0"], "--per-round: 0 must be at least 1"),
            (["--strategy", "lottery", "--finetune-tokens", "0"], "--finetune-tokens: 0 must be at least 1"),
            (["--recalibrate", "distill", "--objective", "lm"], "--recalibrate distill: conflicts with --objective lm"),
            (["--strategy", "iterative", "--resume"], "--resume: needs --work"),
        };
        foreach (var (args, message) in cases)
        {
            var (code, _, err) = JobSupport.CliOutput([.. new[] { "prune", modelDir, "--criterion", "max-rwn", "--drop", "2", "--out", tmp["o"],
                "--calib", "tokens:" + tokens, "--eval-token-file", tokens }, .. args]);
            output.WriteLine(err.Trim());
            Assert.Equal(1, code);
            Assert.StartsWith("error: " + message, err.Trim());
            Assert.Single(JobSupport.Lines(err));
            Assert.False(Directory.Exists(tmp["o"]));
        }
    }
}
