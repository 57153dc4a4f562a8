using System.Text.Json.Nodes;
using MoePrune.Evaluation;
using MoePrune.Jobs.FineTuning;
using MoePrune.Models;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;
using static MoePrune.Tests.Jobs.StrategySupport;

namespace MoePrune.Tests.Jobs;

/// <summary><c>finetune</c>: only the selected roles change, the training loss falls, self-distillation is exactly still, bad input fails in one line.</summary>
[Collection(MoePrune.Tests.Cli.ConsoleCollection.Name)]
public class FinetuneJobTests(ITestOutputHelper output)
{
    static FineTuneSpec Spec(string tokens, long budget = 8L * 4 * 16) => new()
    {
        Tokens = budget, Data = "tokens:" + tokens, SequenceLength = 16, BatchSize = 4, Optimizer = new() { LearningRate = 1e-2 }, PoolSequences = 64,
    };

    [Fact]
    public void RoutersOnlyLeavesEveryOtherTensorOfTheCheckpointBitIdentical()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "qwen2_moe", seed: 3);
        var tokens = ChainTokens(tmp["t.txt"]);
        var record = FinetuneJob.Run(new FinetuneRequest { ModelDir = modelDir, OutDir = tmp["out"], Spec = Spec(tokens) with { Train = "routers" } });
        var before = TensorBytes(modelDir);
        var after = TensorBytes(tmp["out"]);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        var changed = before.Keys.Where(k => !before[k].SequenceEqual(after[k])).Order().ToList();
        output.WriteLine($"changed {changed.Count} of {before.Count}: {string.Join(", ", changed)}");
        Assert.Equal(before.Keys.Where(k => k.EndsWith(".mlp.gate.weight")).Order(), changed);
        Assert.Equal("routers", (string)record["result"]!["train"]!);
        var written = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["out"], FinetuneJob.RecordFile)))!;
        Assert.Equal((string?)record["input"]!["checkpoint_fingerprint"], (string?)written["input"]!["checkpoint_fingerprint"]);
        Assert.Equal(File.ReadAllText(Path.Combine(modelDir, "config.json")), File.ReadAllText(Path.Combine(tmp["out"], "config.json")));
    }

    [Fact]
    public void FineTuningLowersTheTrainingLoss()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "mixtral", seed: 4);
        var tokens = ChainTokens(tmp["t.txt"]);
        var record = FinetuneJob.Run(new FinetuneRequest { ModelDir = modelDir, OutDir = tmp["out"], Spec = Spec(tokens, 30L * 4 * 16), WorkDir = tmp["w"] });
        var sequences = MoePrune.IO.TokenIdFile.Read(tokens, JobSupport.Vocab);
        double Nll(string dir)
        {
            using var model = ModelLoader.Load(dir);
            return Perplexity.Evaluate(model, sequences, 8).MeanNll;
        }
        double before = Nll(modelDir), after = Nll(tmp["out"]);
        var result = record["result"]!;
        output.WriteLine($"NLL on the training data {before:F4} → {after:F4}; step losses {result["loss_first"]:F4} → {result["loss_final"]:F4}");
        Assert.True(after < before - 0.5, $"{before} → {after}");
        Assert.True((double)result["loss_final"]! < (double)result["loss_first"]!);
        Assert.Equal(30, result["cross_entropy"]!.AsArray().Count);
        Assert.Equal(30, (int)result["steps"]!);
    }

    /// <summary>One step (any later step sees weights that AdamW and weight decay have moved): KL exactly 0, gradient norm at float noise.</summary>
    [Fact]
    public void DistillingAModelIntoItselfHasZeroLossAndZeroGradient()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "olmoe", seed: 6);
        var tokens = ChainTokens(tmp["t.txt"]);
        FinetuneJob.Run(new FinetuneRequest
        {
            ModelDir = modelDir, OutDir = tmp["out"], TeacherDir = modelDir, WorkDir = tmp["w"],
            Spec = Spec(tokens, 1L * 4 * 16) with { Objective = FineTuneObjective.Distill },
        });
        var steps = File.ReadAllLines(Path.Combine(tmp["w"], "log.jsonl")).Select(l => JsonNode.Parse(l)!).Where(l => l["distill"] is not null).ToList();
        output.WriteLine(string.Join("\n", steps.Select(s => s.ToJsonString())));
        var step = Assert.Single(steps);
        Assert.Equal(0.0, (double)step["distill"]!);
        Assert.Equal(0.0, (double)step["loss"]!);
        Assert.True((double)step["grad_norm"]! < 1e-6, $"gradient norm {step["grad_norm"]}");
    }

    [Fact]
    public void BadInputFailsInOneLineAndWritesNothing()
    {
        using var tmp = new TempDir();
        var modelDir = JobSupport.WriteModel(tmp["m"], "mixtral", seed: 2);
        var tokens = ChainTokens(tmp["t.txt"]);
        string[] data = ["--data", "tokens:" + tokens];
        var cases = new (string[] Args, string Message)[]
        {
            ([.. data, "--objective", "distill"], "--objective distill: give the teacher model with --teacher"),
            ([.. data, "--teacher", modelDir], "--teacher: only used with --objective distill"),
            ([.. data, "--train", "wings"], "--train: "),
            ([.. data, "--tokens", "0"], "--tokens: 0 must be at least 1"),
            ([.. data, "--objective", "mse"], "--objective: 'mse' is not an objective"),
            (["--sft", tmp["none.jsonl"]], $"{tmp["none.jsonl"]}: task file not found"),
            ([.. data, "--sft", tmp["none.jsonl"]], "--sft: replaces --data"),
        };
        foreach (var (args, message) in cases)
        {
            var (code, _, err) = JobSupport.CliOutput([.. new[] { "finetune", modelDir, "--out", tmp["o"], "--seq-len", "16" }, .. args]);
            output.WriteLine(err.Trim());
            Assert.Equal(1, code);
            Assert.StartsWith("error: " + message, err.Trim());
            Assert.Single(JobSupport.Lines(err));
            Assert.False(Directory.Exists(tmp["o"]));
        }
    }
}
