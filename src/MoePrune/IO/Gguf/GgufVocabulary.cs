using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MoePrune.Tokenization;

namespace MoePrune.IO.Gguf;

/// <summary>
/// The <c>tokenizer.ggml.*</c> metadata of a Hugging Face tokenizer.json (+ tokenizer_config.json), as
/// llama.cpp's <c>llama-vocab.cpp</c> reads it:
/// <list type="bullet">
/// <item>byte-level BPE → model <c>gpt2</c>: tokens in byte-level form, the merges, and the matching
///   <c>pre</c> (<see cref="GgufPreTokenizer"/>);</item>
/// <item>SentencePiece-style BPE with byte fallback (Llama-2, Mistral) → model <c>llama</c>: llama.cpp merges
///   the adjacent pair whose result has the highest score, so each token's score is minus the rank of the first
///   merge that makes it (the same order as HF's merge ranks), byte tokens <c>&lt;0xXX&gt;</c> typed BYTE, and
///   <c>add_space_prefix</c> from the normalizer's ▁ prefix;</item>
/// <item>token types NORMAL, CONTROL (special added tokens), USER_DEFINED (other added tokens), UNKNOWN,
///   BYTE, and UNUSED for the <c>[PADi]</c> tokens that pad the list to the model's vocabulary size;</item>
/// <item>BOS/EOS/UNK/PAD ids, and <c>add_bos_token</c>/<c>add_eos_token</c> from what the post-processor adds.</item>
/// </list>
/// Anything llama.cpp would tokenize differently is refused with a <see cref="MoePruneException"/>.
/// </summary>
public static partial class GgufVocabulary
{
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    /// <summary>Reads tokenizer.json (and tokenizer_config.json) from <paramref name="modelDir"/>.</summary>
    public static GgufMetadata Load(string modelDir, int vocabSize)
    {
        string path = Path.Combine(modelDir, "tokenizer.json");
        if (!File.Exists(path))
            throw new MoePruneException($"{modelDir}: no tokenizer.json; a GGUF file needs the tokenizer embedded");
        string configPath = Path.Combine(modelDir, "tokenizer_config.json");
        return Build(TokenizerJson.ReadFile(path), File.Exists(configPath) ? TokenizerJson.ReadFile(configPath) : null, path, vocabSize);
    }

    /// <summary>Builds the metadata from parsed tokenizer.json / tokenizer_config.json; the token list is padded to <paramref name="vocabSize"/>.</summary>
    public static GgufMetadata Build(JsonNode tokenizerJson, JsonNode? tokenizerConfig, string source, int vocabSize)
    {
        var hf = HfTokenizer.FromJsonNodes(tokenizerJson, tokenizerConfig, source);        // validates the whole file
        var modelNode = tokenizerJson["model"]!;
        var bpe = BpeModel.FromJson(modelNode, source);
        var added = AddedVocabulary.FromJson(tokenizerJson["added_tokens"], source);
        bool byteFallback = TokenizerJson.OptionalBool(modelNode, "byte_fallback") ?? false;
        bool spm = byteFallback && !HasByteLevel(tokenizerJson["pre_tokenizer"]);
        if (hf.VocabSize > vocabSize)
            throw new MoePruneException($"{source}: the tokenizer has {hf.VocabSize} tokens, more than the model's vocab_size {vocabSize}");

        var tokens = new string[vocabSize];
        var types = new int[vocabSize];
        foreach (var (token, id) in bpe.Vocab) (tokens[id], types[id]) = (token, spm && ByteToken().IsMatch(token) ? Byte : Normal);
        foreach (var t in added.Tokens) (tokens[t.Id], types[t.Id]) = (t.Content, t.Special ? Control : UserDefined);
        string? unk = TokenizerJson.OptionalString(modelNode, "unk_token");
        int? unkId = unk is null ? null : hf.IdOf(unk);
        if (unkId is int u) types[u] = Unknown;
        for (int i = 0; i < vocabSize; i++)
            if (tokens[i] is null) (tokens[i], types[i]) = ($"[PAD{i}]", Unused);
        var twice = tokens.GroupBy(t => t, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (twice.Count > 0)
            throw new MoePruneException($"{source}: token text used by more than one id ({MoePruneException.Summarize(twice, 3)}); llama.cpp needs unique tokens");

        var meta = new GgufMetadata();
        if (spm)
        {
            meta.String("tokenizer.ggml.model", "llama");
            meta.Strings("tokenizer.ggml.tokens", tokens);
            meta.Float32s("tokenizer.ggml.scores", MergeScores(bpe, tokens));
            meta.Int32s("tokenizer.ggml.token_type", types);
        }
        else
        {
            CheckByteLevelNormalizer(tokenizerJson["normalizer"], source);
            bool ignoreMerges = TokenizerJson.OptionalBool(modelNode, "ignore_merges") ?? false;
            string pre = GgufPreTokenizer.Name(tokenizerJson["pre_tokenizer"], ignoreMerges, source);
            meta.String("tokenizer.ggml.model", "gpt2");
            meta.String("tokenizer.ggml.pre", pre);
            meta.Strings("tokenizer.ggml.tokens", tokens);
            meta.Int32s("tokenizer.ggml.token_type", types);
            meta.Strings("tokenizer.ggml.merges", bpe.MergeStrings().ToList());
        }
        if (hf.BosId is int bos) meta.UInt32("tokenizer.ggml.bos_token_id", (uint)bos);
        if (hf.EosId is int eos) meta.UInt32("tokenizer.ggml.eos_token_id", (uint)eos);
        if (unkId is int unkToken) meta.UInt32("tokenizer.ggml.unknown_token_id", (uint)unkToken);
        if (hf.PadId is int pad) meta.UInt32("tokenizer.ggml.padding_token_id", (uint)pad);
        var (addBos, addEos) = SpecialsAdded(hf, source);
        meta.Bool("tokenizer.ggml.add_bos_token", addBos);
        meta.Bool("tokenizer.ggml.add_eos_token", addEos);
        if (spm) meta.Bool("tokenizer.ggml.add_space_prefix", SpaceParts(tokenizerJson, source));
        return meta;
    }

    /// <summary>Score of each token: −(rank of the first merge producing it); tokens no merge produces score below every merge.</summary>
    private static float[] MergeScores(BpeModel bpe, string[] tokens)
    {
        var rankOf = new Dictionary<string, int>(StringComparer.Ordinal);
        int rank = 0;
        foreach (var merge in bpe.MergeStrings())
        {
            int space = merge.IndexOf(' ', 1);
            rankOf.TryAdd(merge[..space] + merge[(space + 1)..], rank++);
        }
        return tokens.Select(t => rankOf.TryGetValue(t, out int r) ? -(float)r : t.Length <= 1 ? 0f : -1e9f).ToArray();
    }

    /// <summary>(add BOS, add EOS) from the post-processor: nothing, a single BOS before and/or a single EOS after.</summary>
    private static (bool Bos, bool Eos) SpecialsAdded(HfTokenizer hf, string source)
    {
        var plain = hf.Encode("a", addSpecialTokens: false);
        var full = hf.Encode("a", addSpecialTokens: true);
        int at = Enumerable.Range(0, full.Count - plain.Count + 1).FirstOrDefault(i => full.Skip(i).Take(plain.Count).SequenceEqual(plain), -1);
        var prefix = at < 0 ? full.ToList() : full.Take(at).ToList();
        var suffix = at < 0 ? [] : full.Skip(at + plain.Count).ToList();
        bool bos = prefix.Count == 1 && prefix[0] == hf.BosId, eos = suffix.Count == 1 && suffix[0] == hf.EosId;
        if ((prefix.Count > 0 && !bos) || (suffix.Count > 0 && !eos))
            throw new MoePruneException($"{source}: the post-processor adds [{string.Join(", ", prefix)}] … [{string.Join(", ", suffix)}]; " +
                                        "llama.cpp can only add the BOS token before and the EOS token after");
        return (bos, eos);
    }

    /// <summary>SentencePiece style: ▁ for spaces and one ▁ prefix (normalizer Prepend+Replace or a Metaspace pre-tokenizer).</summary>
    private static bool SpaceParts(JsonNode tokenizerJson, string source)
    {
        string normalizer = tokenizerJson["normalizer"]?.ToJsonString() ?? "null";
        var pre = tokenizerJson["pre_tokenizer"];
        if (TokenizerJson.OptionalString(pre, "type") == "Metaspace")
            throw new MoePruneException($"{source}: Metaspace pre_tokenizer: it adds no ▁ to text that already starts with a space " +
                                        "(and, with prepend_scheme 'first', none after special tokens), llama.cpp's SentencePiece tokenizer always does");
        if (pre is not null)
            throw new MoePruneException($"{source}: SentencePiece-style tokenizer with pre_tokenizer {pre.ToJsonString()} is not exported");
        var steps = tokenizerJson["normalizer"] is JsonObject n && TokenizerJson.OptionalString(n, "type") == "Sequence"
            ? (n["normalizers"] as JsonArray ?? []).Select(s => s!).ToList() : tokenizerJson["normalizer"] is JsonNode one ? [one] : [];
        bool prepend = false, replace = false;
        foreach (var step in steps)
        {
            string type = TokenizerJson.OptionalString(step, "type") ?? "?";
            if (type == "Prepend" && TokenizerJson.OptionalString(step, "prepend") == "\u2581") prepend = true;
            else if (type == "Replace" && TokenizerJson.OptionalString(step["pattern"], "String") == " "
                     && TokenizerJson.OptionalString(step, "content") == "\u2581") replace = true;
            else throw new MoePruneException($"{source}: normalizer step {step.ToJsonString()} has no llama.cpp SentencePiece equivalent");
        }
        if (!replace)
            throw new MoePruneException($"{source}: SentencePiece-style tokenizer without the ' ' → '▁' normalizer is not exported");
        return prepend;
    }

    /// <summary>Byte-level tokenizers: no normalizer, an empty sequence, or NFC (llama.cpp does not normalize; see docs/GGUF.md).</summary>
    private static void CheckByteLevelNormalizer(JsonNode? normalizer, string source)
    {
        if (normalizer is null) return;
        string type = TokenizerJson.OptionalString(normalizer, "type") ?? "?";
        if (type == "NFC") return;
        if (type == "Sequence" && (normalizer["normalizers"] as JsonArray ?? []).All(s => TokenizerJson.OptionalString(s, "type") == "NFC")) return;
        throw new MoePruneException($"{source}: normalizer {normalizer.ToJsonString()} has no llama.cpp equivalent");
    }

    private static bool HasByteLevel(JsonNode? pre) =>
        pre is not null && (TokenizerJson.OptionalString(pre, "type") == "ByteLevel"
                            || (pre["pretokenizers"] as JsonArray ?? []).Any(HasByteLevel));

    [GeneratedRegex("^<0x[0-9A-Fa-f]{2}>$")]
    private static partial Regex ByteToken();
}
