namespace MoePrune.Data;

/// <summary>
/// Text for a calibration source spec, train split only, in a fixed order. Specs (comma-separated to combine):
/// <list type="bullet">
/// <item><c>brown</c>: every train-split Brown document, genres in corpus order, documents by id</item>
/// <item><c>brown:GENRE</c>: one genre by name (<c>news</c>, <c>learned</c>, …) or code letter (<c>A</c>)</item>
/// <item><c>wordnet</c>: the knowledge-set glosses as prose, one paragraph per lemma, most frequent lemma first</item>
/// </list>
/// </summary>
public static class CalibrationSources
{
    public static readonly IReadOnlyList<string> Kinds = ["brown", "brown:GENRE", "wordnet"];

    /// <summary>The texts (one per document or lemma) of <paramref name="spec"/> from the installed corpora.</summary>
    public static IEnumerable<string> Texts(string spec) => Groups(spec).SelectMany(g => g.Texts);

    /// <summary>
    /// The texts of <paramref name="spec"/> grouped for stratified sampling: <c>brown</c> gives one group per genre
    /// (named by the genre), <c>brown:GENRE</c> that genre, <c>wordnet</c> one group named <c>wordnet</c>.
    /// </summary>
    public static IEnumerable<(string Name, IReadOnlyList<string> Texts)> Groups(string spec)
    {
        foreach (var (source, genre) in Parse(spec))
        {
            if (source == "wordnet")
            {
                yield return ("wordnet", KnowledgeSet.Default.Entries.Select(GlossProse.Write).ToList());
                continue;
            }
            var corpus = BrownCorpus.Load();
            foreach (var g in genre is null ? BrownGenre.All : [genre])
                yield return (g.Name, BrownSplits.Default.Documents(corpus, CorpusSplit.Train, g).Select(d => d.Text).ToList());
        }
    }

    /// <summary>Validates a spec and returns its parts (source, optional genre); throws one line naming the bad part.</summary>
    public static List<(string Source, BrownGenre? Genre)> Parse(string spec)
    {
        var parts = new List<(string, BrownGenre?)>();
        foreach (string raw in spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string part = raw.ToLowerInvariant();
            if (part == "brown" || part == "wordnet") parts.Add((part, null));
            else if (part.StartsWith("brown:", StringComparison.Ordinal))
            {
                try { parts.Add(("brown", BrownGenre.Parse(part["brown:".Length..]))); }
                catch (MoePruneException e) { throw new MoePruneException($"calibration source '{raw}': {e.Message}"); }
            }
            else throw new MoePruneException($"calibration source '{raw}': unknown; expected {string.Join(", ", Kinds)}");
        }
        if (parts.Count == 0) throw new MoePruneException($"calibration source '{spec}': empty spec");
        return parts;
    }
}
