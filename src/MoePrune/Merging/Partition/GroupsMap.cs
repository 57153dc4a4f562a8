using System.Text.Json.Nodes;
using MoePrune.IO;

namespace MoePrune.Merging.Partition;

/// <summary>
/// An explicit grouping (<c>--groups-map FILE</c>): a JSON object whose keys are decoder-layer indices as in
/// the tensor names and whose values are lists of groups of original expert indices, e.g.
/// <c>{"1": [[0, 3], [1], [2, 5, 6], [4, 7]]}</c>. Layers it does not name keep all their experts.
/// Validation lists every problem, one line each: a layer that does not exist or is dense, an empty group,
/// an index outside the layer, an expert named twice or in no group, fewer groups than top-k. A layer of
/// singletons only (r = E) is allowed and leaves that layer unchanged.
/// </summary>
public static class GroupsMap
{
    public static SortedDictionary<int, int[][]> Load(string path) => Parse(JsonFile.ReadObject(path), path);

    /// <summary>Reads the structure (types only); <paramref name="source"/> names the file in errors.</summary>
    public static SortedDictionary<int, int[][]> Parse(JsonObject json, string source)
    {
        var map = new SortedDictionary<int, int[][]>();
        foreach (var (key, value) in json)
        {
            if (!int.TryParse(key, out int layer) || layer < 0 || layer.ToString() != key)
                throw new MoePruneException($"{source}: key '{key}' is not a decoder-layer index");
            if (value is not JsonArray groups)
                throw new MoePruneException($"{source}: layer {key}: expected a list of groups (lists of expert indices)");
            var parsed = new List<int[]>();
            foreach (var group in groups)
            {
                if (group is not JsonArray members)
                    throw new MoePruneException($"{source}: layer {key}: '{group?.ToJsonString()}' is not a group (a list of expert indices)");
                var list = new List<int>();
                foreach (var item in members)
                {
                    if (item is not JsonValue v || !v.TryGetValue(out int expert))
                        throw new MoePruneException($"{source}: layer {key}: '{item?.ToJsonString()}' is not an expert index");
                    list.Add(expert);
                }
                parsed.Add([.. list]);
            }
            map[layer] = [.. parsed];
        }
        if (map.Count == 0) throw new MoePruneException($"{source}: the groups map names no layer");
        return map;
    }

    /// <summary>
    /// Checks the map against a model with <paramref name="numLayers"/> decoder layers whose sparse layers
    /// (the keys of <paramref name="expertsPerSparseLayer"/>) have the given expert counts and route top-k.
    /// Returns the canonical grouping per named layer; throws one <see cref="MoePruneException"/> whose
    /// message shows the first problems and whose Details list them all.
    /// </summary>
    public static SortedDictionary<int, ExpertGrouping> Validate(string source, IReadOnlyDictionary<int, int[][]> map,
        int numLayers, IReadOnlyDictionary<int, int> expertsPerSparseLayer, int topK)
    {
        var problems = new List<string>();
        var result = new SortedDictionary<int, ExpertGrouping>();
        foreach (var (layer, groups) in map.OrderBy(kv => kv.Key))
        {
            if (layer < 0 || layer >= numLayers) { problems.Add($"layer {layer} does not exist (the model has {numLayers} layers)"); continue; }
            if (!expertsPerSparseLayer.TryGetValue(layer, out int experts)) { problems.Add($"layer {layer} is a dense layer and has no routed experts to merge"); continue; }
            var layerProblems = GroupValidation.Structure(groups, experts).Select(p => $"layer {layer}: {p}").ToList();
            if (groups.Length < topK)
                layerProblems.Add($"layer {layer}: {groups.Length} group(s) are fewer than top-k = {topK} (every token needs {topK} distinct experts)");
            problems.AddRange(layerProblems);
            if (layerProblems.Count == 0) result[layer] = ExpertGrouping.FromGroups(experts, groups);
        }
        if (problems.Count > 0)
            throw new MoePruneException($"{source}: {string.Join("; ", problems.Take(3))}{(problems.Count > 3 ? $" and {problems.Count - 3} more problem(s)" : "")}", problems);
        return result;
    }
}
