using System.Text.Json.Nodes;
using MoePrune.Observation;
using MoePrune.Pruning;

namespace MoePrune.Jobs;

/// <summary>
/// Which original experts each current expert slot holds, per MoE layer: one original for a kept expert, a
/// group of originals for a merged one. Rounds compose it (<see cref="Keep"/>, <see cref="Merge"/>), so records
/// written after any number of rounds name original experts. Immutable.
/// </summary>
public sealed class ExpertLineage
{
    private readonly SortedDictionary<int, int[][]> _slots;          // layer → slot → ascending originals
    private readonly SortedDictionary<int, int> _originalCounts;     // layer → experts of the original model

    private ExpertLineage(SortedDictionary<int, int[][]> slots, SortedDictionary<int, int> originalCounts)
    {
        _slots = slots;
        _originalCounts = originalCounts;
    }

    /// <summary>The lineage of an unpruned model: slot e of every MoE layer holds original expert e.</summary>
    public static ExpertLineage Identity(IEnumerable<IMoeLayerView> layers) =>
        Identity(layers.ToDictionary(v => v.LayerIndex, v => v.NumExperts));

    /// <summary>The identity lineage for layer → expert count.</summary>
    public static ExpertLineage Identity(IReadOnlyDictionary<int, int> experts) => new(
        new SortedDictionary<int, int[][]>(experts.ToDictionary(kv => kv.Key, kv => Enumerable.Range(0, kv.Value).Select(e => new[] { e }).ToArray())),
        new SortedDictionary<int, int>(experts.ToDictionary(kv => kv.Key, kv => kv.Value)));

    /// <summary>MoE layer indices, ascending.</summary>
    public IReadOnlyList<int> Layers => _slots.Keys.ToList();

    /// <summary>Current expert count of a layer.</summary>
    public int Slots(int layer) => Layer(layer).Length;

    /// <summary>Expert count of the layer in the original model.</summary>
    public int OriginalCount(int layer) => _originalCounts.TryGetValue(layer, out int n) ? n : throw NoLayer(layer);

    /// <summary>The original experts current slot <paramref name="slot"/> holds (ascending).</summary>
    public IReadOnlyList<int> Originals(int layer, int slot)
    {
        var slots = Layer(layer);
        return slot >= 0 && slot < slots.Length ? slots[slot]
            : throw new MoePruneException($"expert lineage: layer {layer} has slots 0..{slots.Length - 1}, not {slot}");
    }

    /// <summary>Original experts still held by some slot of the layer (ascending).</summary>
    public int[] KeptOriginals(int layer) => Layer(layer).SelectMany(s => s).Order().ToArray();

    /// <summary>Original experts no slot of the layer holds any more (ascending).</summary>
    public int[] RemovedOriginals(int layer) => Enumerable.Range(0, OriginalCount(layer)).Except(KeptOriginals(layer)).ToArray();

    /// <summary>The current slot that holds <paramref name="original"/>, or −1 when it was removed.</summary>
    public int SlotOf(int layer, int original) => Array.FindIndex(Layer(layer), s => s.Contains(original));

    /// <summary>The lineage after removal: each layer keeps the current slots its selection keeps (layers not named keep all).</summary>
    public ExpertLineage Keep(IReadOnlyDictionary<int, LayerSelection> selections)
    {
        var next = new SortedDictionary<int, int[][]>(_slots);
        foreach (var (layer, selection) in selections)
        {
            var slots = Layer(layer);
            if (selection.NumExperts != slots.Length)
                throw new MoePruneException($"expert lineage: layer {layer} has {slots.Length} slots, the selection describes {selection.NumExperts}");
            next[layer] = selection.Kept.Select(s => slots[s]).ToArray();
        }
        return new ExpertLineage(next, _originalCounts);
    }

    /// <summary>The lineage after merging: new slot n of <paramref name="layer"/> holds the union of the current slots in group n.</summary>
    public ExpertLineage Merge(int layer, IReadOnlyList<IReadOnlyList<int>> groups)
    {
        var slots = Layer(layer);
        var used = groups.SelectMany(g => g).ToList();
        if (used.Distinct().Count() != used.Count || used.Any(s => s < 0 || s >= slots.Length))
            throw new MoePruneException($"expert lineage: layer {layer}: groups must name distinct slots of 0..{slots.Length - 1}");
        var next = new SortedDictionary<int, int[][]>(_slots)
        {
            [layer] = groups.Select(g => g.SelectMany(s => slots[s]).Order().ToArray()).ToArray(),
        };
        return new ExpertLineage(next, _originalCounts);
    }

    /// <summary>Every original expert the given current slots hold (ascending), e.g. a round's cut in original indices.</summary>
    public int[] Originals(int layer, IEnumerable<int> slots)
    {
        var all = Layer(layer);
        return slots.SelectMany(s => s >= 0 && s < all.Length ? all[s]
            : throw new MoePruneException($"expert lineage: layer {layer} has slots 0..{all.Length - 1}, not {s}")).Order().ToArray();
    }

    /// <summary><c>{"original_experts": {"L": n}, "layers": {"L": [[originals of slot 0], …]}}</c></summary>
    public JsonObject ToJson()
    {
        var layers = new JsonObject();
        var counts = new JsonObject();
        foreach (var (layer, slots) in _slots)
        {
            layers[layer.ToString()] = new JsonArray(slots.Select(s => (JsonNode)new JsonArray(s.Select(e => (JsonNode)e).ToArray())).ToArray());
            counts[layer.ToString()] = _originalCounts[layer];
        }
        return new JsonObject { ["original_experts"] = counts, ["layers"] = layers };
    }

    /// <summary>Reads <see cref="ToJson"/>'s form; <paramref name="file"/> names the source in errors.</summary>
    public static ExpertLineage FromJson(JsonObject json, string file)
    {
        try
        {
            var counts = new SortedDictionary<int, int>();
            var slots = new SortedDictionary<int, int[][]>();
            foreach (var (key, value) in json["original_experts"]!.AsObject())
                counts[int.Parse(key)] = value!.GetValue<int>();
            foreach (var (key, value) in json["layers"]!.AsObject())
                slots[int.Parse(key)] = value!.AsArray().Select(s => s!.AsArray().Select(e => e!.GetValue<int>()).ToArray()).ToArray();
            if (!counts.Keys.SequenceEqual(slots.Keys))
                throw new FormatException("layers and original_experts name different layers");
            return new ExpertLineage(slots, counts);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or NullReferenceException)
        {
            throw new MoePruneException($"{file}: not an expert lineage ({e.Message})", inner: e);
        }
    }

    private int[][] Layer(int layer) => _slots.TryGetValue(layer, out var s) ? s : throw NoLayer(layer);

    private MoePruneException NoLayer(int layer) =>
        new($"expert lineage: no MoE layer {layer} (have {string.Join(",", _slots.Keys)})");
}
