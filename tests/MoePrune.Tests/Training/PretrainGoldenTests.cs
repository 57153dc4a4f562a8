using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MoePrune.Tests.Cli;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Training;

/// <summary>
/// Pretraining is unchanged by the trainer refactoring: `pretrain` with the shipped model's flags (at a tiny
/// shape), with the experiment-only lettered options, and dense bf16, reproduces bit for bit the step losses,
/// gradient norms, validation losses, summary, written model files, evaluation and model card that
/// fixtures/pretrain_golden/record.py recorded with the code before the refactoring (commit in golden.json).
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class PretrainGoldenTests(ITestOutputHelper output)
{
    static JsonObject Golden() => JsonNode.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "fixtures", "pretrain_golden", "golden.json")))!.AsObject();

    [Theory]
    [InlineData("card")]
    [InlineData("lettered")]
    [InlineData("dense")]
    public void PretrainReproducesTheRecordedRun(string scenario)
    {
        var golden = Golden()["scenarios"]![scenario]!.AsObject();
        var args = golden["args"]!.AsArray().Select(a => (string)a!).ToArray();
        using var tmp = new TempDir();
        string outDir = tmp[scenario], work = tmp[scenario + ".work"];
        var run = InProcessCli.Run(["pretrain", "--out", outDir, "--work", work, .. args]);
        Assert.True(run.Code == 0, run.Err);

        var log = File.ReadAllLines(Path.Combine(work, "log.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var steps = log.Where(l => !l.ContainsKey("val_loss")).ToList();
        var validation = log.Where(l => l.ContainsKey("val_loss")).ToList();
        var expectedSteps = golden["steps"]!.AsArray();
        Assert.Equal(expectedSteps.Count, steps.Count);
        double maxDiff = 0;
        for (int i = 0; i < steps.Count; i++)
            foreach (var (key, value) in expectedSteps[i]!.AsObject())
            {
                double want = (double)value!, got = (double)steps[i][key]!;
                maxDiff = Math.Max(maxDiff, Math.Abs(want - got));
                Assert.True(want == got, $"step {i + 1} {key}: {got:R}, recorded {want:R}");
            }
        output.WriteLine($"{scenario}: {steps.Count} steps, max |diff| of logged values {maxDiff:E2}");
        var expectedValidation = golden["validation"]!.AsArray();
        Assert.Equal(expectedValidation.Count, validation.Count);
        for (int i = 0; i < validation.Count; i++)
            Assert.True(JsonEqual(expectedValidation[i]!, validation[i]), $"validation {i}: {validation[i].ToJsonString()}");

        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(work, "summary.json")))!.AsObject();
        foreach (var (key, value) in golden["summary"]!.AsObject())
            Assert.True(JsonEqual(value, summary[key]), $"summary {key}: {summary[key]?.ToJsonString()}, recorded {value?.ToJsonString()}");

        foreach (var (file, hash) in golden["files"]!.AsObject())
        {
            string got = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(outDir, file))));
            output.WriteLine($"{file}: {got}");
            Assert.True((string)hash! == got, $"{file}: sha256 {got}, recorded {hash}");
        }
        Assert.Equal(golden["files"]!.AsObject().Select(kv => kv.Key).Order(StringComparer.Ordinal),
                     Directory.GetFiles(outDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        if (golden["evaluation"] is not JsonObject evaluation) return;
        File.WriteAllText(tmp["notes.md"], (string)golden["notes"]!);
        var eval = InProcessCli.Run(["pretrain", "--out", outDir, "--work", work, .. args, "--evaluate-only", "--card-notes-file", tmp["notes.md"]]);
        Assert.True(eval.Code == 0, eval.Err);
        var written = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "evaluation.json")))!.AsObject();
        Assert.NotNull(written["throughput"]);
        written.Remove("throughput");
        Assert.True(JsonEqual(evaluation, written), "evaluation.json differs: " + written.ToJsonString());
        var card = File.ReadAllText(Path.Combine(outDir, "MODEL_CARD.md")).Replace(outDir, "OUT").Replace(work, "WORK")
            .Split('\n').Where(l => !l.Contains("tokens/s", StringComparison.Ordinal)).ToList();
        Assert.Equal(golden["card_lines"]!.AsArray().Select(l => (string)l!), card);
    }

    /// <summary>Structural equality with numbers compared as doubles (the recorder is Python, so spellings may differ).</summary>
    static bool JsonEqual(JsonNode? a, JsonNode? b) => (a, b) switch
    {
        (null, null) => true,
        (JsonObject x, JsonObject y) => x.Count == y.Count && x.All(kv => y.ContainsKey(kv.Key) && JsonEqual(kv.Value, y[kv.Key])),
        (JsonArray x, JsonArray y) => x.Count == y.Count && x.Zip(y).All(p => JsonEqual(p.First, p.Second)),
        (JsonValue x, JsonValue y) when x.TryGetValue<double>(out var dx) && y.TryGetValue<double>(out var dy) => dx == dy,
        (JsonValue x, JsonValue y) => x.ToJsonString() == y.ToJsonString(),
        _ => false,
    };
}
