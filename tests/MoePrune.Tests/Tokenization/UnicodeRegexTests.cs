using MoePrune.Tokenization;
using Xunit;

namespace MoePrune.Tests.Tokenization;

/// <summary>
/// Code-point semantics of tokenizer regexes on .NET: astral letters (𝐀, 𠀀, 𐐀) and digits (𝟘) must
/// count as \p{L} / \p{N}, and negated classes must not match half a surrogate pair. Expected pieces are
/// worked out by hand from the Rust regex semantics.
/// </summary>
public class UnicodeRegexTests
{
    static string[] Pieces(string pattern, string text) =>
        new UnicodeRegex(pattern).Matches(text).Select(m => text.Substring(m.Start, m.Length)).ToArray();

    [Fact]
    public void AstralLettersAndDigitsAreCategorizedByCodePoint()
    {
        Assert.Equal(["a𝐀b", " ", "𝟘", "1", " ", "😀", " ", "𠀀𐐀"],
                     Pieces(@"\p{L}+|\p{N}|[^\s\p{L}\p{N}]+|\s", "a𝐀b 𝟘1 😀 𠀀𐐀"));
    }

    [Fact]
    public void NegatedClassTakesWholeAstralCharacters()
    {
        // [^\r\n\p{L}\p{N}]?\p{L}+ : an emoji (So) or a space may lead a letter run; astral letters belong to it.
        Assert.Equal(["😀abc", " 𝐀𝐁"], Pieces(@"[^\r\n\p{L}\p{N}]?\p{L}+", "😀abc 𝟘 𝐀𝐁"));
    }

    [Fact]
    public void QwenSplitOnMixedText()
    {
        Assert.Equal(["Hello", " 𝐀𝐁𝐂", " ", "𝟘", "𝟙", "'s", " 🙂\n\n", "x"],
                     Pieces(BpeTrainerOptions.QwenPattern, "Hello 𝐀𝐁𝐂 𝟘𝟙's 🙂\n\nx"));
    }

    [Fact]
    public void DeepSeekDigitGroupsCountAstralDigitsOnce()
    {
        Assert.Equal(["123", "4", "𝟘𝟙𝟚", "𝟛"], Pieces(@"\p{N}{1,3}", "1234 𝟘𝟙𝟚𝟛"));
    }
}
