using System.Text.Json.Nodes;

namespace MoePrune.Tokenization;

/// <summary>One entry of tokenizer.json <c>added_tokens</c>.</summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord, bool LStrip, bool RStrip, bool Normalized);

/// <summary>
/// The added (and special) tokens, matched in the raw text before normalization and pre-tokenization,
/// as HF does: at each position the longest token wins (leftmost-longest). <c>lstrip</c>/<c>rstrip</c>
/// make a match swallow the whitespace on that side; <c>single_word</c> refuses a match that touches a
/// word character. Tokens marked <c>normalized</c> are matched in the raw text as well, which is exact
/// whenever the normalizer leaves them unchanged (true for the Qwen, Llama/Mistral and DeepSeek files).
/// </summary>
public sealed class AddedVocabulary
{
    readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public IReadOnlyList<AddedToken> Tokens { get; }

    public AddedVocabulary(IReadOnlyList<AddedToken> tokens)
    {
        Tokens = tokens;
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    public static AddedVocabulary FromJson(JsonNode? node, string source)
    {
        if (node is null) return new AddedVocabulary([]);
        var list = node as JsonArray ?? throw new MoePruneException($"{source}: added_tokens is not a list");
        var tokens = list.Select(t => new AddedToken(
            t?["id"] is JsonValue v && v.TryGetValue<int>(out int id) && id >= 0
                ? id : throw new MoePruneException($"{source}: added token {t?.ToJsonString()} has no non-negative integer id"),
            TokenizerJson.RequiredString(t, "content", source),
            TokenizerJson.OptionalBool(t, "special") ?? false,
            TokenizerJson.OptionalBool(t, "single_word") ?? false,
            TokenizerJson.OptionalBool(t, "lstrip") ?? false,
            TokenizerJson.OptionalBool(t, "rstrip") ?? false,
            TokenizerJson.OptionalBool(t, "normalized") ?? false)).ToList();
        return new AddedVocabulary(tokens);
    }

    /// <summary>A stretch of input: plain text (Token null) or one matched added token.</summary>
    public readonly record struct Segment(string Text, AddedToken? Token);

    /// <summary>Cuts <paramref name="text"/> into plain stretches and added-token matches, in order.</summary>
    public List<Segment> Split(string text)
    {
        var segments = new List<Segment>();
        int plainStart = 0;
        for (int i = 0; i < text.Length;)
        {
            var token = _byFirstChar.Count == 0 ? null : MatchAt(text, i);
            if (token is null) { i++; continue; }
            int start = i, end = i + token.Content.Length;
            if (token.LStrip) while (start > plainStart && char.IsWhiteSpace(text[start - 1])) start--;
            if (token.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            if (start > plainStart) segments.Add(new Segment(text[plainStart..start], null));
            segments.Add(new Segment(text[start..end], token));
            plainStart = i = end;
        }
        if (plainStart < text.Length) segments.Add(new Segment(text[plainStart..], null));
        return segments;
    }

    AddedToken? MatchAt(string text, int i)
    {
        if (!_byFirstChar.TryGetValue(text[i], out var candidates)) return null;
        foreach (var t in candidates)
        {
            if (string.CompareOrdinal(text, i, t.Content, 0, t.Content.Length) != 0 || i + t.Content.Length > text.Length) continue;
            if (t.SingleWord && (IsWordChar(text, i - 1) || IsWordChar(text, i + t.Content.Length))) continue;
            return t;
        }
        return null;
    }

    static bool IsWordChar(string text, int i) =>
        i >= 0 && i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_');
}
