using System.Text;
using System.Text.Json.Nodes;

namespace MoePrune.Tokenization;

/// <summary>
/// The <c>model</c> of a tokenizer.json with <c>type: "BPE"</c>: vocabulary, ranked merges and the
/// merge loop of HF <c>tokenizers</c> (<c>Word::merge_all</c>): start from one symbol per character
/// (or per UTF-8 byte <c>&lt;0xNN&gt;</c> with <c>byte_fallback</c>), then repeatedly apply the
/// lowest-ranked merge present, leftmost first, until none applies. A priority queue keeps this
/// O(n log n) even for the SentencePiece case, where a whole text stretch is one word.
/// </summary>
public sealed class BpeModel : IWordEncoder
{
    readonly Dictionary<string, int> _vocab;
    readonly Dictionary<long, (int Rank, int NewId)> _merges;
    readonly List<(string Left, string Right)> _mergeList;
    readonly int[] _byteIds;                     // id of <0xNN>, or -1
    readonly int[] _charIds;                     // id of each single-UTF-16-char token, or -1
    readonly int? _unkId;
    readonly bool _fuseUnk, _byteFallback, _ignoreMerges;
    readonly string _prefix, _suffix;
    readonly Dictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    readonly Lock _cacheLock = new();
    const int CacheCapacity = 100_000, CacheMaxWordLength = 64;   // words, as HF caches them

    public IReadOnlyDictionary<string, int> Vocab => _vocab;
    public int MergeCount => _merges.Count;

    /// <summary>True for plain byte-level style BPE: no byte fallback, unk, prefix or suffix handling.</summary>
    public bool IsPlain => !_byteFallback && _unkId is null && _prefix.Length == 0 && _suffix.Length == 0 && !_ignoreMerges;

    /// <summary>The merges in rank order as legacy <c>"a b"</c> strings.</summary>
    public IEnumerable<string> MergeStrings() => _mergeList.Select(m => m.Left + " " + m.Right);

    BpeModel(Dictionary<string, int> vocab, Dictionary<long, (int, int)> merges, List<(string, string)> mergeList, int? unkId,
             bool fuseUnk, bool byteFallback, bool ignoreMerges, string prefix, string suffix)
    {
        _vocab = vocab;
        _merges = merges;
        _mergeList = mergeList;
        _unkId = unkId;
        _fuseUnk = fuseUnk;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        _prefix = prefix;
        _suffix = suffix;
        _byteIds = new int[256];
        for (int b = 0; b < 256; b++) _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        _charIds = new int[char.MaxValue + 1];
        Array.Fill(_charIds, -1);
        foreach (var (token, id) in vocab)
            if (token.Length == 1) _charIds[token[0]] = id;
    }

    public static BpeModel FromJson(JsonNode model, string source)
    {
        var vocabNode = model["vocab"] as JsonObject ?? throw new MoePruneException($"{source}: model.vocab is missing or not an object");
        var vocab = new Dictionary<string, int>(vocabNode.Count, StringComparer.Ordinal);
        foreach (var (token, id) in vocabNode)
            vocab[token] = id is JsonValue v && v.TryGetValue<int>(out int i) && i >= 0
                ? i : throw new MoePruneException($"{source}: vocab entry '{token}' has id {id?.ToJsonString()}, not a non-negative integer");

        var mergesNode = model["merges"] as JsonArray ?? throw new MoePruneException($"{source}: model.merges is missing or not a list");
        var merges = new Dictionary<long, (int, int)>(mergesNode.Count, PairKey.Comparer);
        var mergeList = new List<(string, string)>(mergesNode.Count);
        for (int rank = 0; rank < mergesNode.Count; rank++)
        {
            var (left, right) = ParseMerge(mergesNode[rank], source, rank);
            if (!vocab.TryGetValue(left, out int a) || !vocab.TryGetValue(right, out int b) ||
                !vocab.TryGetValue(left + right, out int merged))
                throw new MoePruneException($"{source}: merge {rank} ('{left}' '{right}') uses a token missing from the vocab");
            merges.TryAdd(Key(a, b), (rank, merged));
            mergeList.Add((left, right));
        }

        string? unk = TokenizerJson.OptionalString(model, "unk_token");
        int? unkId = unk is not null && vocab.TryGetValue(unk, out int u) ? u : null;
        return new BpeModel(vocab, merges, mergeList, unkId,
            TokenizerJson.OptionalBool(model, "fuse_unk") ?? false,
            TokenizerJson.OptionalBool(model, "byte_fallback") ?? false,
            TokenizerJson.OptionalBool(model, "ignore_merges") ?? false,
            TokenizerJson.OptionalString(model, "continuing_subword_prefix") ?? "",
            TokenizerJson.OptionalString(model, "end_of_word_suffix") ?? "");
    }

    /// <summary>A merge is either the legacy <c>"a b"</c> string or the newer <c>["a", "b"]</c> pair.</summary>
    static (string Left, string Right) ParseMerge(JsonNode? node, string source, int rank)
    {
        if (node is JsonArray { Count: 2 } pair && pair[0] is JsonValue l && pair[1] is JsonValue r)
            return (l.GetValue<string>(), r.GetValue<string>());
        if (node is JsonValue v && v.TryGetValue<string>(out var s))
        {
            int space = s.IndexOf(' ', 1);
            if (space > 0 && space < s.Length - 1) return (s[..space], s[(space + 1)..]);
        }
        throw new MoePruneException($"{source}: merge {rank} is neither \"a b\" nor [\"a\", \"b\"]: {node?.ToJsonString()}");
    }

    static long Key(int a, int b) => PairKey.Of(a, b);

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Encode(string word, List<int> output)
    {
        if (word.Length == 0) return;
        if (_ignoreMerges && _vocab.TryGetValue(word, out int whole)) { output.Add(whole); return; }
        bool cacheable = word.Length <= CacheMaxWordLength;
        if (cacheable)
            lock (_cacheLock)
                if (_cache.TryGetValue(word, out var hit)) { output.AddRange(hit); return; }

        var ids = MergeWord(InitialSymbols(word));
        output.AddRange(ids);
        if (cacheable)
            lock (_cacheLock)
                if (_cache.Count < CacheCapacity) _cache[word] = ids;
    }

    /// <summary>One symbol per code point (prefix/suffix applied), byte tokens or unk for unknown ones.</summary>
    List<int> InitialSymbols(string word)
    {
        var symbols = new List<int>(word.Length);
        bool lastWasUnk = false;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < word.Length;)
        {
            int len = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            if (len == 1 && _prefix.Length == 0 && _suffix.Length == 0 && _charIds[word[i]] >= 0)
            {
                symbols.Add(_charIds[word[i++]]);
                lastWasUnk = false;
                continue;
            }
            string piece = word.Substring(i, len);
            if (i > 0) piece = _prefix + piece;
            if (i + len == word.Length) piece += _suffix;
            i += len;

            if (_vocab.TryGetValue(piece, out int id)) { symbols.Add(id); lastWasUnk = false; continue; }
            if (_byteFallback && TryAddBytes(word.AsSpan(i - len, len), utf8, symbols)) { lastWasUnk = false; continue; }
            if (_unkId is int unk)
            {
                if (!(_fuseUnk && lastWasUnk)) symbols.Add(unk);
                lastWasUnk = true;
            }
        }
        return symbols;
    }

    bool TryAddBytes(ReadOnlySpan<char> ch, Span<byte> utf8, List<int> symbols)
    {
        int n = Encoding.UTF8.GetBytes(ch, utf8);
        for (int k = 0; k < n; k++)
            if (_byteIds[utf8[k]] < 0) return false;
        for (int k = 0; k < n; k++) symbols.Add(_byteIds[utf8[k]]);
        return true;
    }

    /// <summary>Applies merges by rank (then position) over a doubly linked list of symbols.</summary>
    int[] MergeWord(List<int> symbols)
    {
        int n = symbols.Count;
        var ids = symbols.ToArray();
        var prev = new int[n];
        var next = new int[n];
        for (int i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }

        var queue = new PriorityQueue<(int Pos, int NewId), (int Rank, int Pos)>();
        for (int i = 0; i + 1 < n; i++)
            if (_merges.TryGetValue(Key(ids[i], ids[i + 1]), out var m)) queue.Enqueue((i, m.NewId), (m.Rank, i));

        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos, right = next[pos];
            if (ids[pos] < 0 || right < 0) continue;
            if (!_merges.TryGetValue(Key(ids[pos], ids[right]), out var current) || current.NewId != top.NewId) continue;

            ids[pos] = top.NewId;               // merge right into pos
            ids[right] = -1;
            next[pos] = next[right];
            if (next[right] >= 0) prev[next[right]] = pos;

            if (prev[pos] >= 0 && _merges.TryGetValue(Key(ids[prev[pos]], ids[pos]), out var left))
                queue.Enqueue((prev[pos], left.NewId), (left.Rank, prev[pos]));
            if (next[pos] >= 0 && _merges.TryGetValue(Key(ids[pos], ids[next[pos]]), out var after))
                queue.Enqueue((pos, after.NewId), (after.Rank, pos));
        }

        var result = new List<int>(n);
        for (int i = 0; i >= 0 && i < n; i = next[i]) result.Add(ids[i]);
        return result.ToArray();
    }
}
