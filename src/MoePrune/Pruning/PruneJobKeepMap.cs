using System.Text.Json.Nodes;
using MoePrune.IO;

namespace MoePrune.Pruning;

/// <summary>
/// Reads a keep-map: a JSON object whose keys are decoder-layer indices as in the tensor names and whose
/// values are lists of the original expert indices to keep, e.g. <c>{"1": [0, 2, 3, 5], "2": [1, 2, 4, 7]}</c>.
/// Layers it does not name keep every expert. Whether the layers are sparse and the indices exist is
/// checked by <see cref="ExpertSurgery.Validate"/>.
/// </summary>
public static class PruneJobKeepMap
{
    public static SortedDictionary<int, IReadOnlyList<int>> Load(string path)
    {
        var json = JsonFile.ReadObject(path);
        var map = new SortedDictionary<int, IReadOnlyList<int>>();
        foreach (var (key, value) in json)
        {
            if (!int.TryParse(key, out int layer) || layer < 0)
                throw new MoePruneException($"{path}: key '{key}' is not a decoder-layer index");
            if (value is not JsonArray list)
                throw new MoePruneException($"{path}: layer {key}: expected a list of expert indices");
            var kept = new List<int>();
            foreach (var item in list)
            {
                if (item is not JsonValue v || !v.TryGetValue(out int expert))
                    throw new MoePruneException($"{path}: layer {key}: '{item?.ToJsonString()}' is not an expert index");
                kept.Add(expert);
            }
            map[layer] = kept;
        }
        if (map.Count == 0)
            throw new MoePruneException($"{path}: the keep-map names no layer");
        return map;
    }
}
