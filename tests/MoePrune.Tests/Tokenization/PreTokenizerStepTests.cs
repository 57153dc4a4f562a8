using System.Text.Json.Nodes;
using MoePrune.Tokenization;
using Xunit;

namespace MoePrune.Tests.Tokenization;

/// <summary>
/// Split behaviors on HF's documented example ("the-final--countdown" split on "-"), invert, and the
/// Metaspace pre-tokenizer; expected pieces from the HF <c>SplitDelimiterBehavior</c> documentation.
/// </summary>
public class PreTokenizerStepTests
{
    static List<string> Run(string json, string text, bool firstSection = true) =>
        PreTokenizerStep.FromJson(JsonNode.Parse(json), "test")!.PreTokenize([text], firstSection);

    static string Split(string behavior, bool invert = false) =>
        $$"""{"type": "Split", "pattern": {"String": "-"}, "behavior": "{{behavior}}", "invert": {{(invert ? "true" : "false")}}}""";

    [Theory]
    [InlineData("Removed", new[] { "the", "final", "countdown" })]
    [InlineData("Isolated", new[] { "the", "-", "final", "-", "-", "countdown" })]
    [InlineData("MergedWithPrevious", new[] { "the-", "final-", "-", "countdown" })]
    [InlineData("MergedWithNext", new[] { "the", "-final", "-", "-countdown" })]
    [InlineData("Contiguous", new[] { "the", "-", "final", "--", "countdown" })]
    public void SplitBehaviors(string behavior, string[] expected) =>
        Assert.Equal(expected, Run(Split(behavior), "the-final--countdown"));

    [Fact]
    public void InvertedSplitTreatsTheNonMatchesAsDelimiters() =>
        // Pattern \d+ inverted + Removed keeps only the digit runs.
        Assert.Equal(["12", "345"], Run("""{"type": "Split", "pattern": {"Regex": "\\d+"}, "behavior": "Removed", "invert": true}""", "ab12cd345e"));

    [Fact]
    public void MetaspaceReplacesSpacesAndPrependsOnlyToTheFirstSection()   // split = MergedWithNext on ▁
    {
        const string json = """{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true}""";
        Assert.Equal(["▁Hello", "▁big", "▁", "▁world"], Run(json, "Hello big  world"));
        Assert.Equal(["after", "▁this"], Run(json, "after this", firstSection: false));
    }

    [Fact]
    public void ByteLevelWithRegexAndPrefixSpace()
    {
        const string json = """{"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}""";
        Assert.Equal(["ĠHello", "Ġworld", "!!", "Ġ", "Ġ123"], Run(json, "Hello world!!  123"));
    }
}
