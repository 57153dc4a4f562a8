using System.Text.Json.Nodes;
using MoePrune.Tests.Cli;
using Xunit;

namespace MoePrune.Tests.Tokenization;

/// <summary>
/// <c>moeprune tokenize</c>: ids as text or one JSON object, --no-special, exit codes of user errors;
/// <c>moeprune train-tokenizer</c>: writes a loadable tokenizer.json and one JSON summary.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class TokenizeCommandTests
{
    static (int Code, string Out, string Err) Run(params string[] args) => InProcessCli.Run(args);

    static readonly string Llama = Path.Combine(GoldenTokenizers.Root, "llama2", "tokenizer.json.gz");

    [Fact]
    public void PrintsIdsWithAndWithoutSpecialTokens()
    {
        var (code, output, _) = Run("tokenize", Llama, "--text", "Hello world");
        Assert.Equal(0, code);
        Assert.Equal("1 22557 1526", output.Trim());   // <s> ▁Hello ▁world (reference ids)

        (code, output, _) = Run("tokenize", Llama, "--text", "Hello world", "--json", "--no-special");
        Assert.Equal(0, code);
        Assert.Equal([22557, 1526], JsonNode.Parse(output)!["ids"]!.AsArray().Select(x => (int)x!));
    }

    [Fact]
    public void UserErrorsAreOneLineWithNonZeroExit()
    {
        foreach (var args in new[]
                 {
                     new[] { "tokenize", "/no/such/tokenizer.json", "--text", "x" },
                     new[] { "tokenize", Llama },
                     new[] { "tokenize", Llama, "--text-file", "/no/such/input.txt" },
                     new[] { "tokenize", Path.Combine(GoldenTokenizers.Root, "strings.json"), "--text", "x" },
                 })
        {
            var (code, output, error) = Run(args);
            Assert.Equal(1, code);
            Assert.Equal("", output);
            Assert.Single(error.Trim().Split('\n'));
            Assert.StartsWith("error: ", error);
        }
    }

    [Fact]
    public void TrainTokenizerWritesALoadableTokenizer()
    {
        string dir = Directory.CreateTempSubdirectory("moeprune-train-").FullName;
        try
        {
            string corpus = Path.Combine(GoldenTokenizers.Root, "trained", "corpus.txt");
            var (code, output, error) = Run("train-tokenizer", "--text-file", corpus, "--vocab-size", "400", "--out", dir, "--json");
            Assert.True(code == 0, error);
            var summary = JsonNode.Parse(output)!;
            Assert.Equal(400, (int)summary["vocab_size"]!);
            var tokenizer = MoePrune.Tokenization.HfTokenizer.Load(dir);
            Assert.Equal(400, tokenizer.VocabSize);
            Assert.Equal(398, tokenizer.EosId);   // <|endoftext|>, the first of the two default special tokens
            Assert.Equal("GNU General Public License", tokenizer.Decode(tokenizer.Encode("GNU General Public License")));
            Assert.Empty(Directory.GetFiles(dir, "*.tmp-*"));

            (code, _, error) = Run("train-tokenizer", "--text-file", "/no/such/corpus.txt", "--out", dir);
            Assert.Equal(1, code);
            Assert.Contains("/no/such/corpus.txt", error);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
