using System.Text;
using System.Text.Json.Nodes;

namespace MoePrune.Tokenization;

/// <summary>
/// The <c>normalizer</c> of a tokenizer.json, applied to each stretch of text between added tokens
/// (as HF does). Supported: NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace (String or Regex
/// pattern) and Sequence of those.
/// </summary>
public abstract class TextNormalizer
{
    public abstract string Normalize(string text);

    /// <summary>True when the normalizer may change text that is already in its Unicode form (Prepend, Replace…).</summary>
    public virtual bool ChangesText => true;

    /// <summary>The Unicode form this normalizer applies, if it is one (NFC for Qwen).</summary>
    public virtual NormalizationForm? UnicodeForm => null;

    public static TextNormalizer? FromJson(JsonNode? node, string source)
    {
        if (node is null) return null;
        string type = TokenizerJson.TypeOf(node, source, "normalizer");
        return type switch
        {
            "NFC" => new UnicodeFormNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeFormNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeFormNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeFormNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "Prepend" => new PrependNormalizer(TokenizerJson.RequiredString(node, "prepend", source)),
            "Replace" => new ReplaceNormalizer(TokenizerJson.ReplacePattern(node, source),
                                               TokenizerJson.RequiredString(node, "content", source)),
            "Sequence" => new SequenceNormalizer(
                (node["normalizers"] as JsonArray ?? throw new MoePruneException($"{source}: normalizer Sequence has no 'normalizers' list"))
                .Select(n => FromJson(n, source)).OfType<TextNormalizer>().ToList()),
            _ => throw new MoePruneException($"{source}: unsupported normalizer type '{type}'"),
        };
    }
}

sealed class UnicodeFormNormalizer(NormalizationForm form) : TextNormalizer
{
    public override string Normalize(string text) => UnicodeNormalizer.Normalize(text, form);
    public override bool ChangesText => false;
    public override NormalizationForm? UnicodeForm => form;
}

sealed class LowercaseNormalizer : TextNormalizer
{
    public override string Normalize(string text) => text.ToLowerInvariant();
}

/// <summary>HF <c>Prepend</c>: adds the prefix to non-empty text.</summary>
sealed class PrependNormalizer(string prefix) : TextNormalizer
{
    public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

sealed class ReplaceNormalizer(ReplacePattern pattern, string content) : TextNormalizer
{
    public override string Normalize(string text) => pattern.ReplaceAll(text, content);
}

sealed class SequenceNormalizer(IReadOnlyList<TextNormalizer> steps) : TextNormalizer
{
    public override string Normalize(string text)
    {
        foreach (var step in steps) text = step.Normalize(text);
        return text;
    }

    public override bool ChangesText => steps.Any(s => s.ChangesText);

    public override NormalizationForm? UnicodeForm => steps.Select(s => s.UnicodeForm).LastOrDefault(f => f is not null);
}

/// <summary>A tokenizer.json pattern: <c>{"String": "…"}</c> (literal) or <c>{"Regex": "…"}</c>.</summary>
public sealed class ReplacePattern
{
    readonly string? _literal;
    readonly UnicodeRegex? _regex;

    public ReplacePattern(string? literal, UnicodeRegex? regex) { _literal = literal; _regex = regex; }

    public string ReplaceAll(string text, string content)
    {
        if (_literal is not null) return _literal.Length == 0 ? text : text.Replace(_literal, content, StringComparison.Ordinal);
        var sb = new StringBuilder(text.Length);
        int last = 0;
        foreach (var (start, length) in _regex!.Matches(text))
        {
            sb.Append(text, last, start - last).Append(content);
            last = start + length;
        }
        return sb.Append(text, last, text.Length - last).ToString();
    }

    /// <summary>Match spans: every occurrence of the literal, or every regex match.</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        if (_regex is not null) return _regex.Matches(text);
        var result = new List<(int, int)>();
        if (_literal!.Length == 0) return result;
        for (int i = text.IndexOf(_literal, StringComparison.Ordinal); i >= 0;
             i = text.IndexOf(_literal, i + _literal.Length, StringComparison.Ordinal))
            result.Add((i, _literal.Length));
        return result;
    }
}
