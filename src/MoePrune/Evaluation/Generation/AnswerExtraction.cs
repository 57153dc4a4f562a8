using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using MoePrune.Evaluation.Tasks;

namespace MoePrune.Evaluation.Generation;

/// <summary>
/// Reads an answer from a generation. <c>letter</c>: the first option letter that stands alone (no letter or digit
/// right before or after it: "B", "(B)", "B.", "Answer: B"); <c>exact</c>: the whole text normalised as SQuAD does
/// (lower-cased, punctuation and symbols deleted, the articles a/an/the deleted, runs of white space collapsed);
/// <c>number</c>: the first number (optional minus sign, digits with optional thousands commas, optional decimals).
/// Null when nothing could be read: no letter, no number, or an empty normalised text.
/// </summary>
public static partial class AnswerExtraction
{
    public static string? Extract(string generation, AnswerExtract mode, string letters) => mode switch
    {
        AnswerExtract.Letter => FirstLetter(generation, letters),
        AnswerExtract.Exact => Normalize(generation) is { Length: > 0 } n ? n : null,
        _ => FirstNumber(generation)?.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Whether an extracted answer matches one of the gold answers (compared after the same reading).</summary>
    public static bool Matches(string? extracted, IReadOnlyList<string> answers, AnswerExtract mode)
    {
        if (extracted is null) return false;
        return mode switch
        {
            AnswerExtract.Letter => answers.Contains(extracted),
            AnswerExtract.Exact => answers.Any(a => Normalize(a) == extracted),
            _ => answers.Any(a => FirstNumber(a) is { } x && x == decimal.Parse(extracted, CultureInfo.InvariantCulture)),
        };
    }

    public static string? FirstLetter(string text, string letters)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (letters.IndexOf(text[i]) < 0) continue;
            bool before = i > 0 && char.IsLetterOrDigit(text[i - 1]);
            bool after = i + 1 < text.Length && char.IsLetterOrDigit(text[i + 1]);
            if (!before && !after) return text[i].ToString();
        }
        return null;
    }

    /// <summary>SQuAD's answer normalisation.</summary>
    public static string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text.ToLowerInvariant())
            if (!char.IsPunctuation(c) && !char.IsSymbol(c)) sb.Append(c);
        string noArticles = Articles().Replace(sb.ToString(), " ");
        return string.Join(" ", noArticles.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>The first number in <paramref name="text"/> (thousands commas dropped), trailing zeros of decimals removed.</summary>
    public static decimal? FirstNumber(string text)
    {
        var m = Number().Match(text);
        if (!m.Success) return null;
        string digits = m.Value.Replace(",", "");
        return decimal.TryParse(digits, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d)
            ? d / 1.0000000000000000000000000000m
            : null;
    }

    [GeneratedRegex(@"\b(a|an|the)\b")]
    private static partial Regex Articles();

    [GeneratedRegex(@"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")]
    private static partial Regex Number();
}
