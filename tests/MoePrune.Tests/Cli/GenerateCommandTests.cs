using System.Text.Json.Nodes;
using MoePrune.Generation;
using MoePrune.Models;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Cli;

/// <summary><c>generate</c> on models/default against the library decoder without the cache, and its stop strings and errors.</summary>
[Collection(ConsoleCollection.Name)]
public class GenerateCommandTests(ITestOutputHelper output)
{
    const string Prompt = "The jury said";

    [Fact]
    public void CachedCliContinuationEqualsRecomputedDecoding()
    {
        var run = InProcessCli.Run("generate", "--prompt", Prompt, "--max-new-tokens", "12", "--json");
        Assert.True(run.Code == 0, run.Err);
        var json = JsonNode.Parse(run.Out)!.AsObject();
        output.WriteLine(run.Out);
        var cliIds = json["token_ids"]!.AsArray().Select(n => (int)n!).ToArray();

        string dir = DefaultModelFiles.Directory();
        var tokenizer = HfTokenizer.Load(dir);
        using var model = ModelLoader.Load(dir);
        var ids = tokenizer.Encode(Prompt).ToArray();
        var eos = EosTokens.Of(dir, model.Config, tokenizer.EosId);
        Assert.Equal([4094], eos);                                                        // generation_config.json
        var expected = GreedyDecoder.Generate(model, [ids], new GenerationOptions(12, eos, UseCache: false))[0];
        Assert.Equal(expected, cliIds);
        Assert.Equal(tokenizer.Decode(expected), (string)json["completion"]!);
        Assert.Equal(ids.Length, (int)json["prompt_tokens"]!);
        Assert.Equal(expected.Length == 12 ? "length" : "eos", (string)json["stop_reason"]!);
    }

    [Fact]
    public void StopStringEndsGenerationAndIsNotPrinted()
    {
        var free = InProcessCli.Run("generate", "--prompt", Prompt, "--max-new-tokens", "20", "--json");
        Assert.True(free.Code == 0, free.Err);
        string full = (string)JsonNode.Parse(free.Out)!["completion"]!;
        // Stop at the third character of the free continuation: the printed text is what precedes it.
        string stop = full.Substring(2, 1);
        var run = InProcessCli.Run("generate", "--prompt", Prompt, "--max-new-tokens", "20", "--stop", stop);
        Assert.True(run.Code == 0, run.Err);
        output.WriteLine($"free: {full}\nstop {stop}: {run.Out}");
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)] + Environment.NewLine, run.Out);
    }

    [Fact]
    public void BadOptionsAreOneLineErrors()
    {
        var zero = InProcessCli.Run("generate", "--prompt", Prompt, "--max-new-tokens", "0");
        Assert.Equal(1, zero.Code);
        Assert.Contains("--max-new-tokens", zero.Err);
        var missing = InProcessCli.Run("generate", "/nonexistent-model-dir", "--prompt", Prompt);
        Assert.Equal(1, missing.Code);
        Assert.Contains("nonexistent-model-dir", missing.Err);
    }
}
