namespace MoePrune.Data;

public enum CorpusSplit { Train, Validation, Test }

/// <summary>The documents of one genre in each split, sorted by id.</summary>
public sealed record GenreSplit(BrownGenre Genre, IReadOnlyList<string> Train, IReadOnlyList<string> Validation, IReadOnlyList<string> Test)
{
    public IReadOnlyList<string> this[CorpusSplit split] => split switch
    {
        CorpusSplit.Train => Train,
        CorpusSplit.Validation => Validation,
        _ => Test,
    };
}

/// <summary>
/// The train / validation / test split of the Brown corpus BY DOCUMENT, stratified by genre. Within each genre the
/// documents are ordered by <see cref="StableHash"/> of their id under <see cref="Seed"/>; the first
/// <c>max(1, round(0.1·n))</c> go to validation, the next as many to test, the rest (about 80%) to train, so every
/// genre — even humor (9 documents) and science fiction (6) — appears in every split. The committed manifest
/// <c>data/splits.json</c> (see <see cref="SplitManifest"/>) records the result.
/// </summary>
public sealed class BrownSplits
{
    public const long DefaultSeed = 5;
    public const double HeldFraction = 0.1;

    public long Seed { get; }
    public IReadOnlyList<GenreSplit> Genres { get; }
    readonly Dictionary<string, CorpusSplit> _splitOf;

    public BrownSplits(long seed, IReadOnlyList<GenreSplit> genres)
    {
        Seed = seed;
        Genres = genres;
        _splitOf = [];
        foreach (var g in genres)
            foreach (CorpusSplit split in Enum.GetValues<CorpusSplit>())
                foreach (string id in g[split])
                    if (!_splitOf.TryAdd(id, split))
                        throw new MoePruneException($"Brown split: document {id} is in both {_splitOf[id]} and {split}");
    }

    static readonly Lazy<BrownSplits> DefaultSplits = new(() => Compute(BrownCorpus.Load(), DefaultSeed));

    /// <summary>The project's splits of the installed corpus (seed <see cref="DefaultSeed"/>), computed once.</summary>
    public static BrownSplits Default => DefaultSplits.Value;

    public static BrownSplits Compute(BrownCorpus corpus, long seed)
    {
        var genres = new List<GenreSplit>();
        foreach (var genre in BrownGenre.All)
        {
            var ordered = StableHash.Shuffle(corpus.OfGenre(genre).Select(d => d.Id), seed, id => id);
            if (ordered.Count < 3) throw new MoePruneException($"{corpus.Folder}: genre {genre.Name} has {ordered.Count} documents; a split needs at least 3");
            int held = Math.Max(1, (int)Math.Round(HeldFraction * ordered.Count, MidpointRounding.AwayFromZero));
            genres.Add(new GenreSplit(genre,
                Train: Sorted(ordered.Skip(2 * held)),
                Validation: Sorted(ordered.Take(held)),
                Test: Sorted(ordered.Skip(held).Take(held))));
        }
        return new BrownSplits(seed, genres);
    }

    static List<string> Sorted(IEnumerable<string> ids) => ids.OrderBy(x => x, StringComparer.Ordinal).ToList();

    public CorpusSplit SplitOf(string documentId) =>
        _splitOf.TryGetValue(documentId, out var s) ? s : throw new MoePruneException($"Brown split: unknown document '{documentId}'");

    /// <summary>The document ids of a split (optionally one genre), in genre order then id order.</summary>
    public IReadOnlyList<string> Documents(CorpusSplit split, BrownGenre? genre = null) =>
        Genres.Where(g => genre == null || g.Genre == genre).SelectMany(g => g[split]).ToList();

    public IEnumerable<BrownDocument> Documents(BrownCorpus corpus, CorpusSplit split, BrownGenre? genre = null) =>
        Documents(split, genre).Select(id => corpus[id]);
}
