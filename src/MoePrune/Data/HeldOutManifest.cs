using System.Text.Json.Nodes;

namespace MoePrune.Data;

/// <summary>
/// The committed <c>data/heldout_lemmas.json</c>: the held-out lemmas of the knowledge set (sorted), each with its
/// part of speech, Brown frequency and first definition, plus the seed and rule that chose them.
/// </summary>
public static class HeldOutManifest
{
    public const string Rule =
        "knowledge-set lemmas whose first definition does not contain the lemma, ordered by the first 8 bytes (little-endian) of SHA-256(\"{seed}:{lemma}\"); the first 'count' are held out";

    public static JsonObject ToJson(KnowledgeSet knowledge) => new()
    {
        ["seed"] = KnowledgeSet.HeldOutSeed,
        ["rule"] = Rule,
        ["knowledge_set_size"] = knowledge.Entries.Count,
        ["count"] = knowledge.HeldOut.Count,
        ["lemmas"] = new JsonArray(knowledge.HeldOut.Select(e => (JsonNode)new JsonObject
        {
            ["lemma"] = e.Lemma,
            ["pos"] = InstructionTemplates.PosName(e.Pos),
            ["frequency"] = e.Frequency,
            ["definition"] = e.FirstSense.Definition,
        }).ToArray()),
    };

    /// <summary>The held-out lemmas listed in a manifest, in file order.</summary>
    public static List<string> ReadLemmas(string path)
    {
        var lemmas = IO.JsonFile.ReadObject(path)["lemmas"] as JsonArray ?? throw new MoePruneException($"{path}: no \"lemmas\" array");
        return lemmas.Select(n => n?["lemma"]?.GetValue<string>() ?? throw new MoePruneException($"{path}: an entry has no \"lemma\"")).ToList();
    }
}
