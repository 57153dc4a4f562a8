using System.Buffers.Binary;
using System.Text.Json.Nodes;
using MoePrune.Tests.IO;
using MoePrune.Tests.Jobs;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Cli;

/// <summary>
/// prune ends by saying what it cost: parameters (checked against the element counts in the safetensors headers of
/// the input and the output, read here), active parameters (by hand from the config), bytes, and perplexity before
/// and after (checked against the perplexity command run on the input and on the written output).
/// </summary>
[Collection(ConsoleCollection.Name)]
public class PruneCostTests(ITestOutputHelper output)
{
    /// <summary>Σ elements over the tensors of every .safetensors file of <paramref name="dir"/>, from the raw headers.</summary>
    internal static long HeaderElements(string dir)
    {
        long total = 0;
        foreach (var file in Directory.GetFiles(dir, "*.safetensors"))
        {
            var bytes = File.ReadAllBytes(file);
            long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            var header = JsonNode.Parse(bytes.AsSpan(8, (int)n))!.AsObject();
            foreach (var (name, t) in header)
                if (name != "__metadata__") total += t!["shape"]!.AsArray().Aggregate(1L, (a, d) => a * (long)d!);
        }
        return total;
    }

    [Fact]
    public void CostMatchesTheCheckpointsAndThePerplexityCommand()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["a.txt"], 30);
        var evalIds = JobSupport.WriteTokens(tmp["eval.txt"], 6, seed: 9);
        var run = JobSupport.CliOutput("prune", model, "--criterion", "min-ean", "--drop", "3", "--out", tmp["p"], "--eval-token-file", evalIds,
            "--calib", $"tokens:{tokens}", "--calib-sequences", "4", "--calib-seq-len", "12");
        output.WriteLine(run.Out);
        Assert.True(run.Code == 0, run.Err);
        var cost = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["p"], "pruning.json")))!["cost"]!;

        long before = HeaderElements(model), after = HeaderElements(tmp["p"]);
        Assert.Equal(before, (long)cost["parameters"]!["before"]!);
        Assert.Equal(after, (long)cost["parameters"]!["after"]!);
        long perExpert = 3L * 32 * 24, layers = 3;                                         // JobSupport's tiny model: hidden 32, experts of 24
        Assert.Equal(before - after, layers * 3 * (perExpert + 32));                       // 3 experts and their router rows per layer
        Assert.Equal(before - layers * (8 - 2) * perExpert, (long)cost["active_parameters"]!["before"]!);
        Assert.Equal(after - layers * (5 - 2) * perExpert, (long)cost["active_parameters"]!["after"]!);
        Assert.Equal(4 * after, (long)cost["parameter_bytes"]!["after"]!);

        double Ppl(string dir)
        {
            var r = JobSupport.CliOutput("perplexity", dir, "--token-file", evalIds, "--json");
            Assert.True(r.Code == 0, r.Err);
            return (double)JsonNode.Parse(r.Out)!["perplexity"]!;
        }
        double pBefore = (double)cost["perplexity"]!["before"]!, pAfter = (double)cost["perplexity"]!["after"]!;
        output.WriteLine($"perplexity {pBefore} -> {pAfter}; command: {Ppl(model)} -> {Ppl(tmp["p"])}");
        Assert.Equal(Ppl(model), pBefore, 1e-9);
        Assert.Equal(Ppl(tmp["p"]), pAfter, 1e-6);
        Assert.Contains(run.Out.Split('\n'), l => l.StartsWith("perplexity  ") && l.Contains(" → "));
        Assert.Contains(run.Out.Split('\n'), l => l.StartsWith($"parameters  {before:N0} → {after:N0}"));

        var skipped = JobSupport.CliOutput("prune", model, "--criterion", "min-ean", "--drop", "3", "--out", tmp["q"], "--no-eval", "--json",
            "--calib", $"tokens:{tokens}", "--calib-sequences", "4", "--calib-seq-len", "12");
        Assert.True(skipped.Code == 0, skipped.Err);
        var quick = JsonNode.Parse(skipped.Out)!["cost"]!;
        Assert.Null(quick["perplexity"]);
        Assert.Equal(after, (long)quick["parameters"]!["after"]!);                         // counted without building the model
    }
}
