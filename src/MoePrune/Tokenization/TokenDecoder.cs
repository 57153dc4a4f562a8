using System.Text;
using System.Text.Json.Nodes;

namespace MoePrune.Tokenization;

/// <summary>
/// The <c>decoder</c> of a tokenizer.json: turns token strings back into text. Supported: ByteLevel,
/// Replace, ByteFallback, Fuse, Strip, Metaspace and Sequence (a chain, as in HF <c>decode_chain</c>).
/// </summary>
public abstract class TokenDecoder
{
    /// <summary>One step of the chain; <paramref name="isAdded"/> tells whether a token is an added token.</summary>
    public abstract List<string> DecodeChain(List<string> tokens, Func<string, bool> isAdded);

    public static TokenDecoder? FromJson(JsonNode? node, string source)
    {
        if (node is null) return null;
        string type = TokenizerJson.TypeOf(node, source, "decoder");
        return type switch
        {
            "ByteLevel" => new ByteLevelDecoder(),
            "Replace" => new ReplaceDecoder(TokenizerJson.ReplacePattern(node, source), TokenizerJson.RequiredString(node, "content", source)),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(TokenizerJson.RequiredString(node, "content", source)[0],
                                        (int?)node["start"] ?? 0, (int?)node["stop"] ?? 0),
            "Metaspace" => new MetaspaceDecoder(TokenizerJson.OptionalString(node, "replacement") ?? "\u2581",
                TokenizerJson.OptionalString(node, "prepend_scheme") != "never" && (TokenizerJson.OptionalBool(node, "add_prefix_space") ?? true)),
            "Sequence" => new SequenceDecoder(
                (node["decoders"] as JsonArray ?? throw new MoePruneException($"{source}: decoder Sequence has no 'decoders' list"))
                .Select(d => FromJson(d, source)).OfType<TokenDecoder>().ToList()),
            _ => throw new MoePruneException($"{source}: unsupported decoder type '{type}'"),
        };
    }
}

/// <summary>Byte-level tokens → bytes → UTF-8 text (invalid bytes become U+FFFD); added tokens pass through.</summary>
sealed class ByteLevelDecoder : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, Func<string, bool> isAdded)
    {
        var result = new List<string>();
        var bytes = new List<byte>();
        foreach (var t in tokens)
        {
            if (isAdded(t))
            {
                Flush();
                result.Add(t);
            }
            else ByteLevelAlphabet.AppendBytes(t, bytes);
        }
        Flush();
        return result;

        void Flush()
        {
            if (bytes.Count == 0) return;
            result.Add(Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
        }
    }
}

sealed class ReplaceDecoder(ReplacePattern pattern, string content) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, Func<string, bool> isAdded) =>
        tokens.Select(t => pattern.ReplaceAll(t, content)).ToList();
}

/// <summary>Runs of <c>&lt;0xNN&gt;</c> tokens become the UTF-8 text of those bytes.</summary>
sealed class ByteFallbackDecoder : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, Func<string, bool> isAdded)
    {
        var result = new List<string>();
        var bytes = new List<byte>();
        foreach (var t in tokens)
        {
            if (t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>' &&
                byte.TryParse(t.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
            {
                bytes.Add(b);
                continue;
            }
            if (bytes.Count > 0) { result.Add(Encoding.UTF8.GetString(bytes.ToArray())); bytes.Clear(); }
            result.Add(t);
        }
        if (bytes.Count > 0) result.Add(Encoding.UTF8.GetString(bytes.ToArray()));
        return result;
    }
}

sealed class FuseDecoder : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, Func<string, bool> isAdded) => [string.Concat(tokens)];
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing copies of a character from each token.</summary>
sealed class StripDecoder(char content, int start, int stop) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, Func<string, bool> isAdded) => tokens.Select(t =>
    {
        int from = 0, to = t.Length;
        while (from < start && from < t.Length && t[from] == content) from++;
        while (t.Length - to < stop && to > from && t[to - 1] == content) to--;
        return t[from..to];
    }).ToList();
}

sealed class MetaspaceDecoder(string replacement, bool stripLeadingSpace) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, Func<string, bool> isAdded) => tokens.Select((t, i) =>
    {
        string s = t.Replace(replacement, " ", StringComparison.Ordinal);
        return stripLeadingSpace && i == 0 && s.StartsWith(' ') ? s[1..] : s;
    }).ToList();
}

sealed class SequenceDecoder(IReadOnlyList<TokenDecoder> steps) : TokenDecoder
{
    public override List<string> DecodeChain(List<string> tokens, Func<string, bool> isAdded)
    {
        foreach (var step in steps) tokens = step.DecodeChain(tokens, isAdded);
        return tokens;
    }
}
