using System.Text;
using MoePrune.Tokenization;
using Xunit;

namespace MoePrune.Tests.Tokenization;

/// <summary>
/// MoePrune's own Unicode normalization (invariant globalization leaves string.Normalize a no-op) against
/// hand-checked values, including the UAX #15 examples, Hangul and canonical reordering.
/// </summary>
public class UnicodeNormalizerTests
{
    [Theory]
    [InlineData("e\u0301", "\u00E9")]                       // é composes
    [InlineData("A\u030Angstro\u0308m", "\u00C5ngstr\u00F6m")]
    [InlineData("\u2126", "\u03A9")]                        // OHM SIGN → GREEK OMEGA (singleton)
    [InlineData("\u1100\u1161", "\uAC00")]                  // Hangul L+V → 가
    [InlineData("\u1100\u1161\u11A8", "\uAC01")]            // Hangul L+V+T → 각
    [InlineData("a\u0323\u0301", "\u1EA1\u0301")]           // dot below (ccc 220) composes first
    [InlineData("a\u0301\u0323", "\u1EA1\u0301")]           // canonical reordering then composition
    [InlineData("\u1E9B\u0323", "\u1E9B\u0323")]            // UAX #15 example, NFC
    [InlineData("\uFB01", "\uFB01")]                        // ﬁ has only a compatibility mapping
    [InlineData("plain ASCII", "plain ASCII")]
    [InlineData("\U0001D400\u0301", "\U0001D400\u0301")]    // astral letter + mark: nothing composes
    public void Nfc(string input, string expected) =>
        Assert.Equal(expected, UnicodeNormalizer.Normalize(input, NormalizationForm.FormC));

    [Theory]
    [InlineData("\u00E9", "e\u0301")]
    [InlineData("\uAC01", "\u1100\u1161\u11A8")]
    [InlineData("\u1E9B\u0323", "\u017F\u0323\u0307")]     // UAX #15 example, NFD
    public void Nfd(string input, string expected) =>
        Assert.Equal(expected, UnicodeNormalizer.Normalize(input, NormalizationForm.FormD));

    [Theory]
    [InlineData("\uFB01", "fi")]
    [InlineData("\u1E9B\u0323", "\u1E69")]                  // UAX #15 example, NFKC
    [InlineData("\uFF21\uFF11", "A1")]                      // fullwidth
    [InlineData("\U0001D400", "A")]                         // MATHEMATICAL BOLD CAPITAL A
    public void Nfkc(string input, string expected) =>
        Assert.Equal(expected, UnicodeNormalizer.Normalize(input, NormalizationForm.FormKC));
}
