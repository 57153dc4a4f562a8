namespace MoePrune.Data;

/// <summary>One lemma of the knowledge set: its dominant part of speech in Brown, its Brown frequency (all tagged
/// forms that map to it, any part of speech) and its first WordNet senses of that part of speech.</summary>
public sealed record KnowledgeEntry(string Lemma, WordNetPos Pos, int Frequency, IReadOnlyList<WordNetSynset> Senses)
{
    public WordNetSynset FirstSense => Senses[0];
}

public sealed record KnowledgeSetOptions
{
    /// <summary>How many of the most frequent Brown lemmas to keep.</summary>
    public int Size { get; init; } = 4000;
    /// <summary>How many of them are held out for evaluation.</summary>
    public int HeldOutCount { get; init; } = 1200;
    /// <summary>WordNet senses written per lemma (first sense always).</summary>
    public int SensesPerLemma { get; init; } = 2;
    public int MinLemmaLength { get; init; } = 3;
}

/// <summary>
/// The KNOWLEDGE SET: the most frequent Brown lemmas that WordNet defines. Brown tokens tagged as common nouns
/// (<c>nn nns</c>), verbs (<c>vb vbd vbg vbn vbz</c>), adjectives (<c>jj jjr jjs jjt</c>) or adverbs (<c>rb rbr rbt</c>)
/// are lower-cased and lemmatized (<see cref="Lemmatizer"/>); only alphabetic lemmas of at least
/// <see cref="KnowledgeSetOptions.MinLemmaLength"/> letters count. Each lemma takes its most frequent part of
/// speech. The HELD-OUT subset is the first <see cref="KnowledgeSetOptions.HeldOutCount"/> eligible lemmas in
/// <see cref="StableHash"/> order under <see cref="HeldOutSeed"/> — eligible meaning the first definition does not
/// contain the lemma itself (such a question would answer itself); it is recorded in
/// <c>data/heldout_lemmas.json</c>.
/// </summary>
public sealed class KnowledgeSet
{
    public const long HeldOutSeed = 11;

    public IReadOnlyList<KnowledgeEntry> Entries { get; }
    public IReadOnlyList<KnowledgeEntry> HeldOut { get; }
    readonly HashSet<string> _heldOut;
    readonly HashSet<(WordNetPos, long)> _heldOutSynsets;
    readonly HashSet<string> _heldOutDefinitions;

    KnowledgeSet(IReadOnlyList<KnowledgeEntry> entries, IReadOnlyList<KnowledgeEntry> heldOut)
    {
        Entries = entries;
        HeldOut = heldOut;
        _heldOut = heldOut.Select(e => e.Lemma).ToHashSet();
        _heldOutSynsets = heldOut.SelectMany(e => e.Senses).Select(s => (s.Pos, s.Offset)).ToHashSet();
        _heldOutDefinitions = heldOut.SelectMany(e => e.Senses).Select(s => s.Definition).ToHashSet();
    }

    static readonly Lazy<KnowledgeSet> DefaultSet = new(() => Build(BrownCorpus.Load(), WordNet.Load(), new KnowledgeSetOptions()));

    /// <summary>The project's knowledge set (default options) over the installed corpora, built once.</summary>
    public static KnowledgeSet Default => DefaultSet.Value;

    public bool IsHeldOut(string lemma) => _heldOut.Contains(lemma);

    /// <summary>
    /// True when the synset is one of the senses written for a held-out lemma, or has the same definition text as
    /// one (WordNet repeats some definitions across synsets, e.g. "a detailed critical inspection").
    /// </summary>
    public bool IsHeldOutSense(WordNetSynset synset) =>
        _heldOutSynsets.Contains((synset.Pos, synset.Offset)) || _heldOutDefinitions.Contains(synset.Definition);

    public IEnumerable<KnowledgeEntry> Trainable => Entries.Where(e => !IsHeldOut(e.Lemma));

    public static KnowledgeSet Build(BrownCorpus corpus, WordNet wordNet, KnowledgeSetOptions options)
    {
        var counts = CountLemmas(corpus, new Lemmatizer(wordNet), options.MinLemmaLength);
        var entries = counts
            .Select(kv => (Lemma: kv.Key, Total: kv.Value.Values.Sum(),
                           Pos: kv.Value.OrderByDescending(p => p.Value).ThenBy(p => p.Key).First().Key))
            .OrderByDescending(x => x.Total).ThenBy(x => x.Lemma, StringComparer.Ordinal)
            .Select(x => new KnowledgeEntry(x.Lemma, x.Pos, x.Total,
                wordNet.Synsets(x.Lemma, x.Pos).Where(s => s.Definition.Length > 0).Take(options.SensesPerLemma).ToList()))
            .Where(e => e.Senses.Count > 0)
            .Take(options.Size)
            .ToList();
        if (entries.Count < options.Size)
            throw new MoePruneException($"knowledge set: only {entries.Count} Brown lemmas have WordNet glosses; {options.Size} were asked for");
        var eligible = entries.Where(e => !e.FirstSense.Definition.Contains(e.Lemma, StringComparison.OrdinalIgnoreCase));
        var heldOut = StableHash.Shuffle(eligible, HeldOutSeed, e => e.Lemma).Take(options.HeldOutCount)
                                .OrderBy(e => e.Lemma, StringComparer.Ordinal).ToList();
        return new KnowledgeSet(entries, heldOut);
    }

    static Dictionary<string, Dictionary<WordNetPos, int>> CountLemmas(BrownCorpus corpus, Lemmatizer lemmatizer, int minLength)
    {
        var counts = new Dictionary<string, Dictionary<WordNetPos, int>>();
        var memo = new Dictionary<(string, string), string?>();
        foreach (var word in corpus.Documents.SelectMany(d => d.Sentences).SelectMany(s => s.Words))
        {
            string tag = UniversalTagset.BaseTag(word.Tag);
            if (PosOf(tag) is not { } pos) continue;
            string form = word.Word.ToLowerInvariant();
            if (form.Length < minLength || !form.All(char.IsAsciiLetterLower)) continue;
            if (!memo.TryGetValue((form, tag), out string? lemma))
                memo[(form, tag)] = lemma = IsBaseForm(tag) ? (lemmatizer.IsLemma(form, pos) ? form : null) : lemmatizer.Lemma(form, pos);
            if (lemma == null || lemma.Length < minLength) continue;
            if (!counts.TryGetValue(lemma, out var byPos)) counts[lemma] = byPos = [];
            byPos[pos] = byPos.GetValueOrDefault(pos) + 1;
        }
        return counts;
    }

    static WordNetPos? PosOf(string baseTag) => baseTag switch
    {
        "nn" or "nns" => WordNetPos.Noun,
        "vb" or "vbd" or "vbg" or "vbn" or "vbz" => WordNetPos.Verb,
        "jj" or "jjr" or "jjs" or "jjt" => WordNetPos.Adjective,
        "rb" or "rbr" or "rbt" => WordNetPos.Adverb,
        _ => null,
    };

    static bool IsBaseForm(string baseTag) => baseTag is "nn" or "vb" or "jj" or "rb";
}
