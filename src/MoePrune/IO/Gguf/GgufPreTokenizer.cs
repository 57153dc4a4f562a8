using System.Text.Json.Nodes;
using MoePrune.Tokenization;

namespace MoePrune.IO.Gguf;

/// <summary>
/// Names the llama.cpp pre-tokenizer (<c>tokenizer.ggml.pre</c>) that splits text exactly as a byte-level
/// tokenizer.json's <c>pre_tokenizer</c> does. llama.cpp does not run the regexes of the file: each name
/// selects regexes compiled into <c>llama-vocab.cpp</c>, so only the pre-tokenizers listed here, which match
/// one of those name for name, are exported; anything else is refused rather than silently split differently.
/// </summary>
public static class GgufPreTokenizer
{
    /// <summary>Qwen2/Qwen3 (and MoePrune's trained tokenizers): one digit per piece.</summary>
    public const string Qwen2Regex =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    /// <summary>Llama-3: up to three digits per piece.</summary>
    public const string Llama3Regex =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    /// <summary>DeepSeek-V3's three Split steps.</summary>
    public static readonly IReadOnlyList<string> DeepSeekV3Regexes =
    [
        @"\p{N}{1,3}",
        "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    ];

    /// <summary>
    /// The <c>tokenizer.ggml.pre</c> name for a byte-level <paramref name="preTokenizer"/>; throws naming
    /// <paramref name="source"/> and the structure found when llama.cpp has no equivalent.
    /// </summary>
    public static string Name(JsonNode? preTokenizer, bool ignoreMerges, string source)
    {
        var steps = Flatten(preTokenizer);
        string shape = Describe(steps);
        if (steps.Count == 0 || steps[^1] is not ByteLevel last)
            throw new MoePruneException($"{source}: pre_tokenizer {shape} does not end in ByteLevel; no llama.cpp pre-tokenizer matches it");
        if (last.AddPrefixSpace)
            throw new MoePruneException($"{source}: pre_tokenizer ByteLevel adds a prefix space, which llama.cpp's byte-level tokenizer never does");
        var splits = steps.Take(steps.Count - 1).ToList();
        if (splits.Any(s => s is not Split { Isolated: true }))
            throw new MoePruneException($"{source}: pre_tokenizer {shape} has steps other than Split(Isolated) before ByteLevel; no llama.cpp pre-tokenizer matches it");
        var regexes = splits.Cast<Split>().Select(s => s.Regex).ToList();
        if (last.UseRegex)
        {
            if (regexes.Count == 0) return "gpt-2";
        }
        else if (regexes.Count == 1 && regexes[0] == Qwen2Regex) return "qwen2";
        else if (regexes.Count == 1 && regexes[0] == Llama3Regex) return ignoreMerges ? "llama-bpe" : "smaug-bpe";
        else if (regexes.SequenceEqual(DeepSeekV3Regexes)) return "deepseek-v3";
        throw new MoePruneException($"{source}: pre_tokenizer {shape} matches none of llama.cpp's pre-tokenizers that MoePrune maps " +
                                    "(gpt-2, qwen2, llama-bpe, smaug-bpe, deepseek-v3)");
    }

    private abstract record Step;
    private sealed record Split(string Regex, bool Isolated) : Step;
    private sealed record ByteLevel(bool AddPrefixSpace, bool UseRegex) : Step;
    private sealed record Other(string Type) : Step;

    private static List<Step> Flatten(JsonNode? node)
    {
        var steps = new List<Step>();
        if (node is null) return steps;
        string type = TokenizerJson.OptionalString(node, "type") ?? "?";
        switch (type)
        {
            case "Sequence":
                foreach (var s in node["pretokenizers"] as JsonArray ?? []) steps.AddRange(Flatten(s));
                break;
            case "Split":
                string? regex = TokenizerJson.OptionalString(node["pattern"], "Regex");
                bool isolated = (TokenizerJson.OptionalString(node, "behavior") ?? "Isolated") == "Isolated"
                                && !(TokenizerJson.OptionalBool(node, "invert") ?? false);
                steps.Add(regex is null ? new Other("Split(String)") : new Split(regex, isolated));
                break;
            case "ByteLevel":
                steps.Add(new ByteLevel(TokenizerJson.OptionalBool(node, "add_prefix_space") ?? true,
                                        TokenizerJson.OptionalBool(node, "use_regex") ?? true));
                break;
            default:
                steps.Add(new Other(type));
                break;
        }
        return steps;
    }

    private static string Describe(List<Step> steps) => steps.Count == 0 ? "(none)" :
        string.Join(" → ", steps.Select(s => s switch
        {
            Split sp => $"Split(/{(sp.Regex.Length > 24 ? sp.Regex[..24] + "…" : sp.Regex)}/)",
            ByteLevel b => $"ByteLevel(add_prefix_space={b.AddPrefixSpace}, use_regex={b.UseRegex})",
            Other o => o.Type,
            _ => "?",
        }));
}
