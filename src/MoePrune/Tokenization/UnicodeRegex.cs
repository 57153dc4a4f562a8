using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MoePrune.Tokenization;

/// <summary>
/// A tokenizer.json regex (Rust <c>regex</c> / Oniguruma syntax) run with code-point semantics on .NET.
/// .NET matches UTF-16 code units, so <c>\p{L}</c> would not see 𝐀 (a surrogate pair) as a letter and a
/// negated class such as <c>[^\p{L}]</c> would match half of it. Instead of rewriting every pattern, the
/// text is matched through a "shadow" string in which each astral code point is replaced by ONE
/// BMP stand-in character of the same Unicode general category (never whitespace, never ASCII, never
/// inside the CJK ranges patterns name). Category tests (<c>\p{L}</c>, <c>\p{N}</c>, <c>\p{P}</c>,
/// <c>\s</c>, …) then answer as they do on code points, and match offsets map back to the original.
/// Limitation: a pattern naming an astral code point literally is not supported (none of the known
/// tokenizer files does).
/// </summary>
public sealed class UnicodeRegex
{
    readonly Regex _regex;

    public string Pattern { get; }

    public UnicodeRegex(string pattern)
    {
        Pattern = pattern;
        _regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
    }

    /// <summary>The (start, length) of every non-overlapping match, in UTF-16 offsets of <paramref name="text"/>.</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        var result = new List<(int, int)>();
        if (!HasSurrogates(text))
        {
            for (var m = _regex.Match(text); m.Success; m = m.NextMatch())
                if (m.Length > 0) result.Add((m.Index, m.Length));
            return result;
        }
        var (shadow, offsets) = BuildShadow(text);
        for (var m = _regex.Match(shadow); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue;
            int start = offsets[m.Index], end = offsets[m.Index + m.Length];
            result.Add((start, end - start));
        }
        return result;
    }

    static bool HasSurrogates(string text)
    {
        foreach (char c in text)
            if (char.IsSurrogate(c)) return true;
        return false;
    }

    /// <summary>One char per code point; offsets[i] is the original offset of shadow char i (plus the end).</summary>
    static (string Shadow, int[] Offsets) BuildShadow(string text)
    {
        var shadow = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length;)
        {
            offsets.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                int cp = char.ConvertToUtf32(text[i], text[i + 1]);
                shadow.Append(StandIn(CharUnicodeInfo.GetUnicodeCategory(cp)));
                i += 2;
            }
            else
            {
                shadow.Append(text[i]);
                i++;
            }
        }
        offsets.Add(text.Length);
        return (shadow.ToString(), offsets.ToArray());
    }

    /// <summary>A BMP character of the given general category that no tokenizer pattern names literally.</summary>
    static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u0410',       // Cyrillic А
        UnicodeCategory.LowercaseLetter => '\u0430',       // Cyrillic а
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u05D0',           // Hebrew alef
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',    // Arabic-Indic zero
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u2039',
        UnicodeCategory.FinalQuotePunctuation => '\u203A',
        UnicodeCategory.OtherPunctuation => '\u2016',
        UnicodeCategory.MathSymbol => '\u2200',
        UnicodeCategory.CurrencySymbol => '\u20AC',
        UnicodeCategory.ModifierSymbol => '\u02C2',
        UnicodeCategory.OtherSymbol => '\u00A6',
        UnicodeCategory.Format => '\u200E',
        UnicodeCategory.PrivateUse => '\uE000',
        _ => '\u0378',                                     // unassigned
    };
}
