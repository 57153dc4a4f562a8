using System.Text.Json.Nodes;

namespace MoePrune.Tokenization;

/// <summary>
/// One step of a tokenizer.json <c>pre_tokenizer</c>: refines a list of pieces into smaller pieces.
/// Supported: Split (all behaviors, invert), ByteLevel (use_regex, add_prefix_space), Metaspace,
/// Digits and Sequence.
/// </summary>
public abstract class PreTokenizerStep
{
    /// <summary>The GPT-2 split used by ByteLevel with <c>use_regex: true</c> (GPT-2, GPT-NeoX, OLMoE).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Splits every piece; <paramref name="firstSection"/> is true for the text before any added token.</summary>
    public abstract List<string> PreTokenize(List<string> pieces, bool firstSection);

    /// <summary>True when this step maps text to GPT-2 byte-level characters.</summary>
    public virtual bool IsByteLevel => false;

    /// <summary>True when this step may insert text (a prefix space or ▁), which decoding keeps.</summary>
    public virtual bool AddsText => false;

    public static PreTokenizerStep? FromJson(JsonNode? node, string source)
    {
        if (node is null) return null;
        string type = TokenizerJson.TypeOf(node, source, "pre_tokenizer");
        switch (type)
        {
            case "Split":
                return new SplitStep(TokenizerJson.ReplacePattern(node, source),
                    ParseBehavior(TokenizerJson.OptionalString(node, "behavior") ?? "Isolated", source),
                    TokenizerJson.OptionalBool(node, "invert") ?? false);
            case "ByteLevel":
                return new ByteLevelStep(TokenizerJson.OptionalBool(node, "add_prefix_space") ?? true,
                                         TokenizerJson.OptionalBool(node, "use_regex") ?? true);
            case "Metaspace":
                return new MetaspaceStep(TokenizerJson.OptionalString(node, "replacement") ?? "\u2581",
                    TokenizerJson.OptionalString(node, "prepend_scheme")
                        ?? ((TokenizerJson.OptionalBool(node, "add_prefix_space") ?? true) ? "always" : "never"),
                    TokenizerJson.OptionalBool(node, "split") ?? true);
            case "Digits":
                bool individual = TokenizerJson.OptionalBool(node, "individual_digits") ?? false;
                return new SplitStep(new ReplacePattern(null, new UnicodeRegex(individual ? @"\p{N}" : @"\p{N}+")),
                                     SplitBehavior.Isolated, false);
            case "Sequence":
                var steps = node["pretokenizers"] as JsonArray
                    ?? throw new MoePruneException($"{source}: pre_tokenizer Sequence has no 'pretokenizers' list");
                return new SequenceStep(steps.Select(s => FromJson(s, source)).OfType<PreTokenizerStep>().ToList());
            default:
                throw new MoePruneException($"{source}: unsupported pre_tokenizer type '{type}'");
        }
    }

    static SplitBehavior ParseBehavior(string name, string source) => name switch
    {
        "Isolated" => SplitBehavior.Isolated,
        "Removed" => SplitBehavior.Removed,
        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
        "MergedWithNext" => SplitBehavior.MergedWithNext,
        "Contiguous" => SplitBehavior.Contiguous,
        _ => throw new MoePruneException($"{source}: unsupported Split behavior '{name}'"),
    };
}

public enum SplitBehavior { Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>HF <c>Split</c>: cuts each piece at the pattern's matches (or, with invert, at its non-matches).</summary>
sealed class SplitStep(ReplacePattern pattern, SplitBehavior behavior, bool invert) : PreTokenizerStep
{
    public override List<string> PreTokenize(List<string> pieces, bool firstSection)
    {
        var result = new List<string>();
        foreach (var piece in pieces) SplitOne(piece, result);
        return result;
    }

    void SplitOne(string piece, List<string> result)
    {
        // Cover the piece with alternating (span, isDelimiter) parts.
        var parts = new List<(int Start, int Length, bool Delimiter)>();
        int last = 0;
        foreach (var (start, length) in pattern.Matches(piece))
        {
            if (start > last) parts.Add((last, start - last, invert));
            parts.Add((start, length, !invert));
            last = start + length;
        }
        if (last < piece.Length) parts.Add((last, piece.Length - last, invert));

        // As HF: a delimiter merges into its neighbour only when that neighbour is not a delimiter too.
        int first = result.Count;
        for (int i = 0; i < parts.Count; i++)
        {
            var (start, length, delimiter) = parts[i];
            string text = piece.Substring(start, length);
            bool previousIsDelimiter = i > 0 && parts[i - 1].Delimiter;
            bool nextIsPlain = i + 1 < parts.Count && !parts[i + 1].Delimiter;
            switch (behavior)
            {
                case SplitBehavior.Removed:
                    if (!delimiter) result.Add(text);
                    break;
                case SplitBehavior.Isolated:
                    result.Add(text);
                    break;
                case SplitBehavior.MergedWithPrevious:
                    if (delimiter && i > 0 && !previousIsDelimiter) result[^1] += text;
                    else result.Add(text);
                    break;
                case SplitBehavior.MergedWithNext:
                    if (delimiter && nextIsPlain)
                    {
                        parts[i + 1] = (start, length + parts[i + 1].Length, false);   // extend the next part leftwards
                        continue;
                    }
                    result.Add(text);
                    break;
                case SplitBehavior.Contiguous:
                    if (delimiter && previousIsDelimiter && result.Count > first) result[^1] += text;
                    else result.Add(text);
                    break;
            }
        }
    }
}

/// <summary>HF <c>ByteLevel</c>: optional GPT-2 split and prefix space, then bytes → GPT-2 characters.</summary>
sealed class ByteLevelStep(bool addPrefixSpace, bool useRegex) : PreTokenizerStep
{
    static readonly UnicodeRegex Gpt2 = new(Gpt2Pattern);

    public override bool IsByteLevel => true;

    public override bool AddsText => addPrefixSpace;

    public override List<string> PreTokenize(List<string> pieces, bool firstSection)
    {
        var result = new List<string>(pieces.Count);
        foreach (var raw in pieces)
        {
            string piece = addPrefixSpace && !raw.StartsWith(' ') ? " " + raw : raw;
            if (!useRegex) { result.Add(ByteLevelAlphabet.Encode(piece)); continue; }
            foreach (var (start, length) in Gpt2.Matches(piece))
                result.Add(ByteLevelAlphabet.Encode(piece.AsSpan(start, length)));
        }
        return result;
    }
}

/// <summary>HF <c>Metaspace</c>: spaces → ▁, optional leading ▁, then split before each ▁.</summary>
sealed class MetaspaceStep(string replacement, string prependScheme, bool split) : PreTokenizerStep
{
    public override bool AddsText => prependScheme != "never";

    public override List<string> PreTokenize(List<string> pieces, bool firstSection)
    {
        var result = new List<string>();
        foreach (var raw in pieces)
        {
            string piece = raw.Replace(" ", replacement, StringComparison.Ordinal);
            bool prepend = prependScheme == "always" || (prependScheme == "first" && firstSection);
            if (prepend && piece.Length > 0 && !piece.StartsWith(replacement, StringComparison.Ordinal)) piece = replacement + piece;
            if (piece.Length == 0) continue;
            if (!split) { result.Add(piece); continue; }
            int begin = 0;
            for (int i = piece.IndexOf(replacement, 1, StringComparison.Ordinal); i > 0;
                 i = piece.IndexOf(replacement, i + 1, StringComparison.Ordinal))
            {
                result.Add(piece[begin..i]);
                begin = i;
            }
            if (begin < piece.Length) result.Add(piece[begin..]);
        }
        return result;
    }
}

sealed class SequenceStep(IReadOnlyList<PreTokenizerStep> steps) : PreTokenizerStep
{
    public override bool IsByteLevel => steps.Any(s => s.IsByteLevel);

    public override bool AddsText => steps.Any(s => s.AddsText);

    public override List<string> PreTokenize(List<string> pieces, bool firstSection)
    {
        foreach (var step in steps) pieces = step.PreTokenize(pieces, firstSection);
        return pieces;
    }
}
