using MoePrune.Evaluation.LogLikelihood;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Evaluation;

/// <summary>lm-evaluation-harness's (context, continuation) tokenization on real tokenizer.json files.</summary>
public sealed class ContinuationEncoderTests(ITestOutputHelper output)
{
    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "tokenizers", name, "tokenizer.json.gz");

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama2")]
    public void TrailingSpaceMovesIntoTheContinuationAndNoSpecialTokensAreAdded(string name)
    {
        var tokenizer = HfTokenizer.Load(Fixture(name));
        var encoder = new ContinuationEncoder(tokenizer);
        var request = encoder.Encode("Question: what is the capital of France?\nAnswer: ", "Paris");

        var head = tokenizer.Encode("Question: what is the capital of France?\nAnswer:", addSpecialTokens: false).ToArray();
        var whole = tokenizer.Encode("Question: what is the capital of France?\nAnswer: Paris", addSpecialTokens: false).ToArray();
        output.WriteLine($"{name}: context {string.Join(" ", request.Context)} | continuation {string.Join(" ", request.Continuation)}");
        Assert.Equal(head, request.Context);
        Assert.Equal(whole[head.Length..], request.Continuation);
        string first = tokenizer.TokenOf(request.Continuation[0])!;                      // the space belongs to the answer
        Assert.True(first.StartsWith('\u0120') || first.StartsWith('\u2581'), $"first continuation token '{first}'");
        Assert.Equal("Paris", tokenizer.Decode(request.Continuation).Trim());
        // Encoding the context with its trailing space gives other ids (the space is a token of its own).
        Assert.NotEqual(tokenizer.Encode("Question: what is the capital of France?\nAnswer: ", addSpecialTokens: false).ToArray(), request.Context);
        int?[] special = [tokenizer.BosId, tokenizer.EosId];
        Assert.DoesNotContain(request.Context.Concat(request.Continuation), id => special.Contains(id));
    }

    [Fact]
    public void AddBosPutsTheBosTokenInFrontAndAnEmptyContextStartsFromIt()
    {
        var tokenizer = HfTokenizer.Load(Fixture("llama2"));
        Assert.NotNull(tokenizer.BosId);
        var plain = new ContinuationEncoder(tokenizer).Encode("Hello", " world");
        var withBos = new ContinuationEncoder(tokenizer, addBos: true).Encode("Hello", " world");
        Assert.Equal([tokenizer.BosId!.Value, .. plain.Context], withBos.Context);
        Assert.Equal(plain.Continuation, withBos.Continuation);

        var empty = new ContinuationEncoder(tokenizer).Encode("", "Hello world");
        Assert.Equal([tokenizer.BosId!.Value], empty.Context);
        Assert.Equal(tokenizer.Encode("Hello world", addSpecialTokens: false), empty.Continuation);
    }

    [Fact]
    public void AddBosWithoutABosTokenIsRefused()
    {
        var tokenizer = HfTokenizer.Load(DefaultModelFiles.TokenizerJson);
        Assert.Null(tokenizer.BosId);
        var e = Assert.Throws<MoePruneException>(() => new ContinuationEncoder(tokenizer, addBos: true).Encode("a", " b"));
        Assert.Contains("--add-bos", e.Message);
    }

    [Fact]
    public void ATokenAcrossTheBoundaryIsFlagged()
    {
        // The default tokenizer writes ":" + newline as one token: the context's own encoding ends in a bare ":".
        var tokenizer = HfTokenizer.Load(DefaultModelFiles.TokenizerJson);
        var encoder = new ContinuationEncoder(tokenizer);
        var merged = encoder.Encode("### Answer:\n", "A");
        var whole = tokenizer.Encode("### Answer:\nA", addSpecialTokens: false).ToArray();
        Assert.True(merged.Merged);
        Assert.NotEqual(whole[..merged.Context.Length], merged.Context);
        Assert.Equal(whole[merged.Context.Length..], merged.Continuation);
        var clean = encoder.Encode("### Answer", ":\nA");
        Assert.False(clean.Merged);
        Assert.Equal(whole, clean.Context.Concat(clean.Continuation).ToArray());
    }
}
