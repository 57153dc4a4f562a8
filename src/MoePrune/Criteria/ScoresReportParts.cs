using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using MoePrune.Criteria.Statistics;

namespace MoePrune.Criteria;

/// <summary>The parts of <see cref="ScoresReport"/> (<c>scores.json</c>): metadata, per-criterion and NAEE sections.</summary>
public sealed class ScoresMetadata
{
    [JsonPropertyName("model")] public string Model { get; set; } = "";
    [JsonPropertyName("calibration")] public string Calibration { get; set; } = "";
    [JsonPropertyName("tokens")] public long Tokens { get; set; }
    /// <summary>Source name → tokens of that source (first MoE layer).</summary>
    [JsonPropertyName("source_tokens")] public SortedDictionary<string, long> SourceTokens { get; set; } = new(StringComparer.Ordinal);
    [JsonPropertyName("seed")] public int Seed { get; set; }
    [JsonPropertyName("created_utc")] public string CreatedUtc { get; set; } = "";
    /// <summary>Fingerprint of the scored checkpoint (<c>MoePrune.IO.CheckpointFingerprint</c>).</summary>
    [JsonPropertyName("checkpoint_fingerprint")] public string? CheckpointFingerprint { get; set; }
    /// <summary>Compute dtype of the calibration pass ("float32", "bfloat16", …).</summary>
    [JsonPropertyName("dtype")] public string? Dtype { get; set; }
    /// <summary>Calibration spec, sizes, seed and per-source use (<c>MoePrune.Calibration.CalibrationSet.ToJson</c>).</summary>
    [JsonPropertyName("calibration_data")] public JsonObject? CalibrationData { get; set; }

    public static ScoresMetadata From(CriteriaStats? stats, string model, int seed)
    {
        var m = new ScoresMetadata { Model = model, Seed = seed, CreatedUtc = DateTime.UtcNow.ToString("o") };
        if (stats is null) return m;
        m.Calibration = stats.Calibration;
        m.CheckpointFingerprint = stats.CheckpointFingerprint;
        m.Tokens = stats.Tokens;
        foreach (var (source, layers) in stats.Sources)
            m.SourceTokens[source] = layers.Count == 0 ? 0 : layers.First().Value.Tokens;
        return m;
    }
}

public sealed class CriterionReport
{
    /// <summary>"min" or "max": which end of each layer's values is dropped first.</summary>
    [JsonPropertyName("drops")] public string Drops { get; set; } = "min";
    [JsonPropertyName("layers")] public SortedDictionary<int, LayerReport> Layers { get; set; } = [];
    [JsonPropertyName("sources")] public SortedDictionary<string, SortedDictionary<int, LayerReport>>? Sources { get; set; }
}

public sealed class LayerReport
{
    [JsonPropertyName("top_k")] public int TopK { get; set; }
    [JsonPropertyName("values")] public double[] Values { get; set; } = [];
}

/// <summary>A subset of kept experts (ascending expert indices) and its reconstruction error.</summary>
public sealed record ExpertSubset(
    [property: JsonPropertyName("experts")] int[] Experts,
    [property: JsonPropertyName("error")] double Error);

/// <summary>One layer's NAEE subsets: the kept count searched, the best subset and every subset evaluated.</summary>
public sealed class NaeeLayerReport
{
    [JsonPropertyName("keep")] public int Keep { get; set; }
    [JsonPropertyName("mode")] public string Mode { get; set; } = "";
    [JsonPropertyName("input_rows")] public int InputRows { get; set; }
    [JsonPropertyName("best")] public ExpertSubset Best { get; set; } = new([], 0);
    [JsonPropertyName("evaluated")] public SortedDictionary<int, List<ExpertSubset>> Evaluated { get; set; } = [];
}
