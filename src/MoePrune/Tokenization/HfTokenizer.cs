using System.Text;
using System.Text.Json.Nodes;

namespace MoePrune.Tokenization;

/// <summary>
/// A Hugging Face fast tokenizer read from <c>tokenizer.json</c> (plus <c>tokenizer_config.json</c> when it
/// lies beside it): the pipeline of HF <c>tokenizers</c>: added tokens split out of the raw text, each
/// stretch normalized, pre-tokenized and BPE-encoded, then the post-processor's special tokens.
/// Covers byte-level BPE (Qwen2/Qwen3, OLMoE/GPT-NeoX, DeepSeek-V3, <see cref="BpeTrainer"/> output) and
/// SentencePiece-style BPE with byte fallback (Llama-2, Mistral, Mixtral). Other model types
/// (WordPiece, Unigram, WordLevel) are refused with a <see cref="MoePruneException"/>.
/// Encoding is thread-safe.
/// </summary>
public sealed class HfTokenizer
{
    readonly TextNormalizer? _normalizer;
    readonly PreTokenizerStep? _preTokenizer;
    readonly BpeModel _model;
    readonly IWordEncoder _encoder;
    readonly PostProcessor _postProcessor;
    readonly TokenDecoder? _decoder;
    readonly AddedVocabulary _added;
    readonly string?[] _idToToken;
    readonly Dictionary<string, int> _addedIds;
    readonly HashSet<int> _specialIds;
    readonly bool _cleanUpSpaces;

    /// <summary>The file the tokenizer came from (used in error messages).</summary>
    public string Source { get; }
    /// <summary>Highest id + 1 over the model vocabulary and the added tokens.</summary>
    public int VocabSize => _idToToken.Length;
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }
    /// <summary>
    /// True when <c>Decode(Encode(s, false))</c> gives back <c>s</c> for every string already in the
    /// tokenizer's Unicode normalization form (<see cref="UnicodeForm"/>, NFC for Qwen): byte-level BPE
    /// whose normalizer changes nothing else and that adds no prefix space. False for SentencePiece-style
    /// tokenizers (they add ▁ to every stretch of text between special tokens and strip one leading space).
    /// </summary>
    public bool IsLossless { get; }
    /// <summary>The Unicode normalization the tokenizer applies, if any.</summary>
    public NormalizationForm? UnicodeForm => _normalizer?.UnicodeForm;

    HfTokenizer(JsonNode json, JsonNode? config, string source, bool useMlNetBpe)
    {
        Source = source;
        if (json is not JsonObject) throw new MoePruneException($"{source}: not a tokenizer.json (the top level is not a JSON object)");
        var modelNode = json["model"] ?? throw new MoePruneException($"{source}: no 'model' section");
        string modelType = TokenizerJson.OptionalString(modelNode, "type") ?? (modelNode["merges"] is not null ? "BPE" : "unknown");
        if (modelType != "BPE")
            throw new MoePruneException($"{source}: unsupported tokenizer model type '{modelType}' (only BPE is supported)");

        _model = BpeModel.FromJson(modelNode, source);
        _normalizer = TextNormalizer.FromJson(json["normalizer"], source);
        _preTokenizer = PreTokenizerStep.FromJson(json["pre_tokenizer"], source);
        _encoder = useMlNetBpe && _model.IsPlain && _preTokenizer is { IsByteLevel: true } ? new MlNetBpeEncoder(_model) : _model;
        _decoder = TokenDecoder.FromJson(json["decoder"], source);
        _added = AddedVocabulary.FromJson(json["added_tokens"], source);

        _addedIds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in _added.Tokens) _addedIds.TryAdd(t.Content, t.Id);
        _specialIds = _added.Tokens.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        int size = Math.Max(_model.Vocab.Count == 0 ? 0 : _model.Vocab.Values.Max() + 1,
                            _added.Tokens.Count == 0 ? 0 : _added.Tokens.Max(t => t.Id) + 1);
        _idToToken = new string?[size];
        foreach (var (token, id) in _model.Vocab) _idToToken[id] = token;
        foreach (var t in _added.Tokens) _idToToken[t.Id] = t.Content;

        _postProcessor = PostProcessor.FromJson(json["post_processor"], IdOf, source);
        BosId = ConfigId(config, "bos_token") ?? (_postProcessor.Prefix.Count == 1 ? _postProcessor.Prefix[0] : null);
        EosId = ConfigId(config, "eos_token") ?? (_postProcessor.Suffix.Count == 1 ? _postProcessor.Suffix[0] : null);
        PadId = ConfigId(config, "pad_token");
        _cleanUpSpaces = TokenizerJson.OptionalBool(config, "clean_up_tokenization_spaces") ?? false;
        IsLossless = _preTokenizer is { IsByteLevel: true, AddsText: false } && _decoder is ByteLevelDecoder
                     && _normalizer is null or { ChangesText: false } && !_cleanUpSpaces;
    }

    /// <summary>
    /// Loads <paramref name="tokenizerJsonOrModelDir"/>: a model directory holding tokenizer.json, or the
    /// tokenizer.json file itself (<c>.gz</c> accepted, also as tokenizer.json.gz in a directory). A
    /// tokenizer_config.json beside it supplies the BOS/EOS/PAD names and
    /// <c>clean_up_tokenization_spaces</c>. The merge loop is MoePrune's own <see cref="BpeModel"/>; with
    /// <paramref name="useMlNetBpe"/> plain byte-level BPE runs it in Microsoft.ML.Tokenizers instead
    /// (<see cref="MlNetBpeEncoder"/>: the same ids on every golden string, but slower in our measurements).
    /// </summary>
    public static HfTokenizer Load(string tokenizerJsonOrModelDir, bool useMlNetBpe = false)
    {
        string path = tokenizerJsonOrModelDir;
        if (Directory.Exists(path))
        {
            path = Path.Combine(path, "tokenizer.json");
            if (!File.Exists(path) && File.Exists(path + ".gz")) path += ".gz";
            if (!File.Exists(path)) throw new MoePruneException($"{tokenizerJsonOrModelDir}: directory has no tokenizer.json");
        }
        else if (!File.Exists(path)) throw new MoePruneException($"{path}: no such file or directory");

        var configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "tokenizer_config.json");
        var config = File.Exists(configPath) ? TokenizerJson.ReadFile(configPath) : null;
        return new HfTokenizer(TokenizerJson.ReadFile(path), config, path, useMlNetBpe);
    }

    /// <summary>Builds a tokenizer from the text of tokenizer.json (and optionally tokenizer_config.json).</summary>
    public static HfTokenizer FromJson(string tokenizerJson, string? tokenizerConfigJson = null, string source = "tokenizer.json",
                                       bool useMlNetBpe = false) =>
        new(TokenizerJson.Parse(tokenizerJson, source),
            tokenizerConfigJson is null ? null : TokenizerJson.Parse(tokenizerConfigJson, source + " (config)"), source, useMlNetBpe);

    /// <summary>Builds a tokenizer from already parsed tokenizer.json / tokenizer_config.json nodes.</summary>
    internal static HfTokenizer FromJsonNodes(JsonNode tokenizerJson, JsonNode? tokenizerConfig, string source, bool useMlNetBpe = false) =>
        new(tokenizerJson, tokenizerConfig, source, useMlNetBpe);

    /// <summary>
    /// Token ids of <paramref name="text"/>: added tokens found in the raw text, every other stretch
    /// normalized, pre-tokenized and BPE-encoded; then, with <paramref name="addSpecialTokens"/>, the
    /// post-processor's BOS/EOS.
    /// </summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        bool firstSection = true;
        foreach (var segment in _added.Split(text))
        {
            if (segment.Token is not null) { ids.Add(segment.Token.Id); firstSection = false; continue; }
            string normalized = _normalizer?.Normalize(segment.Text) ?? segment.Text;
            if (normalized.Length == 0) continue;
            var pieces = _preTokenizer?.PreTokenize([normalized], firstSection) ?? [normalized];
            foreach (var piece in pieces) _encoder.Encode(piece, ids);
            firstSection = false;
        }
        _postProcessor.Apply(ids, addSpecialTokens);
        return ids;
    }

    /// <summary>
    /// Text of <paramref name="ids"/>; ids outside the vocabulary are skipped (as HF does), and special
    /// tokens too when <paramref name="skipSpecialTokens"/> is set.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (skipSpecialTokens && _specialIds.Contains(id)) continue;
            if (TokenOf(id) is string token) tokens.Add(token);
        }
        string text = _decoder is null ? string.Join(" ", tokens)
                                       : string.Concat(_decoder.DecodeChain(tokens, _addedIds.ContainsKey));
        return _cleanUpSpaces ? CleanUpTokenizationSpaces(text) : text;
    }

    public string? TokenOf(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    public int? IdOf(string token) =>
        _addedIds.TryGetValue(token, out int a) ? a : _model.Vocab.TryGetValue(token, out int v) ? v : null;

    int? ConfigId(JsonNode? config, string key) => TokenizerJson.ConfigToken(config, key) is string t ? IdOf(t) : null;

    /// <summary>transformers' <c>clean_up_tokenization</c>: removes the space before punctuation and contractions.</summary>
    static string CleanUpTokenizationSpaces(string text) => text
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");
}
