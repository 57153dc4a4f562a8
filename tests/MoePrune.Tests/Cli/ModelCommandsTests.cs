using System.Text.Json.Nodes;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Cli;

/// <summary>make-tiny → info → perplexity through the real CLI binary (a child process, so stdout is its own).</summary>
public class ModelCommandsTests(ITestOutputHelper output)
{
    static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliProcess.Run(args);

    [Fact]
    public void MakeTinyThenInfoThenPerplexity()
    {
        using var tmp = new TempDir();
        var dir = tmp["olmoe"];
        var made = Run("make-tiny", "olmoe", "--out", dir, "--json");
        Assert.True(made.Code == 0, made.Stderr);
        Assert.Equal("olmoe", (string)JsonNode.Parse(made.Stdout)!["model_type"]!);

        var info = Run("info", dir, "--json");
        Assert.True(info.Code == 0, info.Stderr);
        var json = JsonNode.Parse(info.Stdout)!.AsObject();
        output.WriteLine(info.Stdout);
        Assert.Equal(2, (int)json["layers"]!);
        Assert.Equal([8, 8], json["experts_per_layer"]!.AsArray().Select(n => (int)n!));
        Assert.True((long)json["active_parameters"]! < (long)json["total_parameters"]!);
        Assert.Equal((long)json["total_parameters"]! * 4, (long)json["bytes_by_dtype"]!["F32"]!);

        File.WriteAllText(tmp["tokens.txt"], "1 2 3 4 5\n6 7 8\n");
        var ppl = Run("perplexity", dir, "--token-file", tmp["tokens.txt"], "--dtype", "bf16", "--json");
        Assert.True(ppl.Code == 0, ppl.Stderr);
        var result = JsonNode.Parse(ppl.Stdout)!.AsObject();
        Assert.Equal(6, (long)result["tokens"]!);
        Assert.Equal(Math.Exp((double)result["mean_nll"]!), (double)result["perplexity"]!, 6);

        var bad = Run("info", tmp["missing"]);
        Assert.Equal(1, bad.Code);
        Assert.StartsWith("error: ", bad.Stderr);
    }
}
