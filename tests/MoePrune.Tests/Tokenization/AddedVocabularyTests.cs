using MoePrune.Tokenization;
using Xunit;

namespace MoePrune.Tests.Tokenization;

/// <summary>
/// Added-token matching before pre-tokenization: leftmost-longest, lstrip/rstrip swallow neighbouring
/// whitespace, single_word refuses matches inside words. Expected ids worked out by hand on a character
/// vocabulary (a=0 b=1 space=2, no merges).
/// </summary>
public class AddedVocabularyTests
{
    static HfTokenizer Tokenizer(string addedTokens) => HfTokenizer.FromJson($$$"""
        {"added_tokens": [{{{addedTokens}}}],
         "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, " ": 2}, "merges": []}}
        """);

    static string Token(int id, string content, bool lstrip = false, bool rstrip = false, bool singleWord = false) =>
        $$"""{"id": {{id}}, "content": "{{content}}", "special": true, "normalized": false, "lstrip": {{Lower(lstrip)}}, "rstrip": {{Lower(rstrip)}}, "single_word": {{Lower(singleWord)}}}""";

    static string Lower(bool b) => b ? "true" : "false";

    [Fact]
    public void PlainTokensKeepTheirSurroundingSpaces() =>
        Assert.Equal([0, 2, 10, 2, 1], Tokenizer(Token(10, "<x>")).Encode("a <x> b"));

    [Fact]
    public void LStripAndRStripSwallowWhitespace()
    {
        Assert.Equal([0, 10, 2, 1], Tokenizer(Token(10, "<x>", lstrip: true)).Encode("a  <x> b"));
        Assert.Equal([0, 2, 10, 1], Tokenizer(Token(10, "<x>", rstrip: true)).Encode("a <x>  b"));
    }

    [Fact]
    public void LongestTokenWinsAtAPosition() =>
        Assert.Equal([11, 0], Tokenizer(Token(10, "<x>") + "," + Token(11, "<x><x>")).Encode("<x><x>a"));

    [Fact]
    public void SingleWordTokensMatchOnlyAsWholeWords()
    {
        var tokenizer = Tokenizer(Token(10, "ab", singleWord: true));
        Assert.Equal([10, 2, 0, 1, 0], tokenizer.Encode("ab aba"));
        Assert.Equal("ab a b a", tokenizer.Decode([10, 0, 1, 0]));   // no decoder: tokens joined by spaces, as HF
    }
}
