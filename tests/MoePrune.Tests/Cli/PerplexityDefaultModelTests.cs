using System.Globalization;
using System.Text.Json.Nodes;
using MoePrune.Tests.IO;
using MoePrune.Training.Pretrain;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Cli;

/// <summary><c>info</c> and <c>perplexity</c> without a model directory use models/default; --corpus and --text work.</summary>
public class PerplexityDefaultModelTests(ITestOutputHelper output)
{
    static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliProcess.Run(args);

    static string Card()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string card = Path.Combine(dir.FullName, "models", "default", "MODEL_CARD.md");
            if (File.Exists(card)) return card;
        }
        throw new InvalidOperationException("models/default/MODEL_CARD.md not found");
    }

    [Fact]
    public void DefaultModelInfoAndPerGenrePerplexity()
    {
        var info = Run("info", "--json");
        Assert.True(info.Code == 0, info.Stderr);
        Assert.Equal("mixtral", (string)JsonNode.Parse(info.Stdout)!["model_type"]!);

        var ppl = Run("perplexity", "--corpus", "brown:test", "--sequences", "2", "--json");
        Assert.True(ppl.Code == 0, ppl.Stderr);
        var json = JsonNode.Parse(ppl.Stdout)!.AsObject();
        Assert.Equal(15, json["per_genre"]!.AsObject().Count);
        string line = File.ReadLines(Card()).Single(l => l.StartsWith(ModelCardWriter.TestPerplexityLabel, StringComparison.Ordinal));
        double stated = double.Parse(line[ModelCardWriter.TestPerplexityLabel.Length..].Split(' ')[0], CultureInfo.InvariantCulture);
        double got = (double)json["perplexity"]!;
        output.WriteLine($"CLI test-subset perplexity {got}, card {stated}");
        Assert.True(Math.Abs(got - stated) / stated < 0.01, $"{got} vs {stated}");
    }

    [Fact]
    public void TextFileIsTokenizedWithTheModelsTokenizer()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp["a.txt"], "The jury said it did find that the city was well run. " +
                                        "It was a long day, and the night was cold.");
        var ppl = Run("perplexity", "--text-file", tmp["a.txt"], "--seq-len", "8", "--json");
        Assert.True(ppl.Code == 0, ppl.Stderr);
        var json = JsonNode.Parse(ppl.Stdout)!.AsObject();
        output.WriteLine(ppl.Stdout);
        Assert.True((long)json["sequences"]! >= 2);
        Assert.True((double)json["perplexity"]! > 1);

        var both = Run("perplexity", "--text-file", tmp["a.txt"], "--corpus", "brown:test");
        Assert.Equal(1, both.Code);
        Assert.Contains("exactly one of", both.Stderr);
    }
}
