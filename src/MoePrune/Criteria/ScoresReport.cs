using System.Text.Json;
using System.Text.Json.Serialization;
using MoePrune.IO;

namespace MoePrune.Criteria;

/// <summary>
/// <c>scores.json</c>: criterion name → layer index → per-expert values (plus per-source values for the
/// calibration-mix criteria), the subsets chosen by the NAEE selector, and metadata. Written and read with
/// System.Text.Json.
/// </summary>
public sealed class ScoresReport
{
    [JsonPropertyName("metadata")] public ScoresMetadata Metadata { get; set; } = new();
    [JsonPropertyName("criteria")] public SortedDictionary<string, CriterionReport> Criteria { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Layer → the NAEE selector's subsets (when naee was requested).</summary>
    [JsonPropertyName("naee")] public SortedDictionary<int, NaeeLayerReport>? Naee { get; set; }

    /// <summary>The file this report was read from (null when built in memory); named in messages.</summary>
    [JsonIgnore] public string? Path { get; private set; }

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Names of the criteria the report holds: scores, then subset selectors.</summary>
    public IReadOnlyList<string> Names => Naee is null ? Criteria.Keys.ToList() : [.. Criteria.Keys, "naee"];

    private string Where => Path ?? "scores report";

    /// <summary>Adds a criterion's scores (source = null) or one source's scores of an already added criterion.</summary>
    public void Add(CriterionScores scores, string? source = null)
    {
        var layers = new SortedDictionary<int, LayerReport>();
        foreach (var (index, l) in scores.Layers)
            layers[index] = new LayerReport { TopK = l.TopK, Values = l.Values };
        if (!Criteria.TryGetValue(scores.Spec.Name, out var report))
        {
            if (source is not null)
                throw new MoePruneException($"scores report: add the overall scores of {scores.Spec.Name} before its source '{source}'");
            Criteria[scores.Spec.Name] = new CriterionReport { Drops = DropName(scores.Drops), Layers = layers };
            return;
        }
        if (source is null)
            throw new MoePruneException($"scores report: criterion {scores.Spec.Name} added twice");
        (report.Sources ??= new(StringComparer.Ordinal))[source] = layers;
    }

    /// <summary>The scores of one criterion (or of one of its sources) as the selection takes them.</summary>
    public CriterionScores ToScores(string criterion, string? source = null)
    {
        var spec = CriterionSpec.Parse(criterion);
        if (spec.Needs.SelectsSubsets)
            throw new MoePruneException($"{Where}: {spec.Name} selects subsets of experts and has no per-expert values");
        if (!Criteria.TryGetValue(spec.Name, out var report))
            throw new MoePruneException($"{Where}: no criterion {spec.Name} (have: {(Names.Count == 0 ? "none" : MoePruneException.Summarize(Names))})");
        var layers = report.Layers;
        if (source is not null && (report.Sources is null || !report.Sources.TryGetValue(source, out layers!)))
            throw new MoePruneException($"{Where}: criterion {spec.Name} has no source '{source}'");
        var scores = new CriterionScores { Spec = spec, Drops = report.Drops == "max" ? DropDirection.Max : DropDirection.Min };
        foreach (var (index, l) in layers)
            scores.Layers[index] = new LayerScores(index, l.TopK, l.Values);
        return scores;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>Writes atomically (temporary name, then rename).</summary>
    public void Save(string path) => JsonFile.WriteAtomic(path, JsonSerializer.SerializeToNode(this, Options)!);

    public static ScoresReport Load(string path)
    {
        if (!File.Exists(path))
            throw new MoePruneException($"{path}: scores file not found");
        try
        {
            var report = JsonSerializer.Deserialize<ScoresReport>(File.ReadAllText(path), Options)
                ?? throw new MoePruneException($"{path}: empty scores file");
            report.Path = path;
            return report;
        }
        catch (JsonException ex)
        {
            throw new MoePruneException($"{path}: not a scores file ({ex.Message})", inner: ex);
        }
    }

    private static string DropName(DropDirection d) => d == DropDirection.Max ? "max" : "min";
}
