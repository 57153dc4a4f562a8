using System.Text.Json;
using System.Text.Json.Nodes;
using MoePrune.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Criteria.Statistics;

/// <summary>
/// Stores <see cref="CriteriaStats"/> as a safetensors file (<see cref="SafetensorsWriter"/>, read back with
/// <see cref="SafetensorsFile"/>). The header's <c>__metadata__["moeprune.criteria_stats"]</c> holds a JSON
/// string: format version, criteria, calibration description, the fingerprint of the scored checkpoint, the
/// expert count of every layer, for a calibration shard "shard" ("K/N") and "shard_of" (the whole set), and per
/// statistics set (all sources, then each source) every layer's shape and each statistic's sizes. Tensor names: <c>{set}.layers.{l}.{statistic}.{part}</c> with set = "all" or
/// "source.{name}".
/// </summary>
public static class CriteriaStatsFile
{
    public const string MetaKey = "moeprune.criteria_stats";
    public const int FormatVersion = 2;

    /// <summary>Writes atomically: a temporary file in the same folder, renamed at the end.</summary>
    public static void Save(CriteriaStats stats, string path)
    {
        using var scope = torch.NewDisposeScope();
        var tensors = new List<KeyValuePair<string, Tensor>>();
        var sets = new JsonArray { SetMeta("all", stats.Layers, tensors) };
        foreach (var (source, layers) in stats.Sources)
            sets.Add(SetMeta("source." + source, layers, tensors));
        var experts = new JsonObject();
        foreach (var (index, count) in stats.ExpertCounts) experts[index.ToString()] = count;
        var meta = new JsonObject
        {
            ["version"] = FormatVersion,
            ["criteria"] = new JsonArray(stats.Criteria.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()),
            ["calibration"] = stats.Calibration,
            ["tokens"] = stats.Tokens,
            ["checkpoint_fingerprint"] = stats.CheckpointFingerprint,
            ["experts"] = experts,
            ["sets"] = sets,
        };
        if (stats.Shard is not null)
        {
            meta["shard"] = stats.Shard;
            meta["shard_of"] = stats.ShardOf;
        }
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { [MetaKey] = meta.ToJsonString() });
    }

    public static CriteriaStats Load(string path)
    {
        if (!File.Exists(path))
            throw new MoePruneException($"{path}: criteria statistics file not found");
        using var file = SafetensorsFile.Open(path);
        var meta = ReadMeta(file);
        var stats = new CriteriaStats
        {
            Calibration = meta["calibration"]?.GetValue<string>() ?? "",
            CheckpointFingerprint = meta["checkpoint_fingerprint"]?.GetValue<string>(),
            Shard = meta["shard"]?.GetValue<string>(),
            ShardOf = meta["shard_of"]?.GetValue<string>(),
        };
        stats.Criteria.AddRange(meta["criteria"]!.AsArray().Select(c => c!.GetValue<string>()));
        var kinds = CriterionInfo.AllStatistics.ToDictionary(k => k.Key);
        foreach (var set in meta["sets"]!.AsArray())
        {
            var name = set!["name"]!.GetValue<string>();
            var layers = name == "all" ? stats.Layers : stats.Sources[name["source.".Length..]] = [];
            foreach (var layerMeta in set["layers"]!.AsArray())
            {
                var layer = ReadLayer(file, name, layerMeta!.AsObject(), kinds);
                layers[layer.LayerIndex] = layer;
            }
        }
        return stats;
    }

    private static JsonObject ReadMeta(SafetensorsFile file)
    {
        string path = file.Path;
        JsonObject meta;
        try
        {
            if (!file.Metadata.TryGetValue(MetaKey, out var text))
                throw new MoePruneException($"{path}: not a MoePrune criteria statistics file (no {MetaKey} metadata)");
            meta = JsonNode.Parse(text)!.AsObject();
        }
        catch (Exception ex) when (ex is JsonException or NullReferenceException or InvalidOperationException)
        {
            throw new MoePruneException($"{path}: not a MoePrune criteria statistics file ({ex.Message})", inner: ex);
        }
        var version = meta["version"] is JsonValue v && v.TryGetValue(out int n) ? n : (int?)null;
        if (version != FormatVersion)
            throw new MoePruneException(
                $"{path}: criteria statistics format version {version?.ToString() ?? "unknown"}, this MoePrune reads version {FormatVersion}; re-run score --save-stats to collect them again");
        return meta;
    }

    private static LayerStats ReadLayer(SafetensorsFile file, string set, JsonObject m, IReadOnlyDictionary<string, StatisticKind> kinds)
    {
        int Int(string key) => m[key]!.GetValue<int>();
        var layer = new LayerStats(Int("index"), Int("experts"), Int("top_k"));
        var context = new StatisticContext(layer.LayerIndex, layer.NumExperts, layer.TopK, 0, 0, 0);
        foreach (var (key, sizes) in m["statistics"]!.AsObject())
        {
            if (!kinds.TryGetValue(key, out var kind))
                throw new MoePruneException($"{file.Path}: unknown statistic '{key}' in layer {layer.LayerIndex} (known: {string.Join(", ", kinds.Keys)})");
            var reader = new StatisticReader(file, $"{set}.layers.{layer.LayerIndex}.{key}.", sizes!.AsObject(), context);
            layer.Set(kind.Read(reader));
        }
        return layer;
    }

    private static JsonObject SetMeta(string set, SortedDictionary<int, LayerStats> layers, List<KeyValuePair<string, Tensor>> tensors)
    {
        var arr = new JsonArray();
        foreach (var (index, s) in layers)
        {
            var statistics = new JsonObject();
            foreach (var (key, part) in s.Parts)
            {
                var writer = new StatisticWriter($"{set}.layers.{index}.{key}.", tensors);
                part.Write(writer);
                statistics[key] = writer.Sizes;
            }
            arr.Add(new JsonObject { ["index"] = index, ["experts"] = s.NumExperts, ["top_k"] = s.TopK, ["statistics"] = statistics });
        }
        return new JsonObject { ["name"] = set, ["layers"] = arr };
    }
}
