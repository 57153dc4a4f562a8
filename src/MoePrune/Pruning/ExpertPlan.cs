using static TorchSharp.torch;

namespace MoePrune.Pruning;

/// <summary>
/// Decoder-layer index → the ordered list of what each new expert slot of that layer is. Built from the
/// experts to keep (<see cref="Keep"/>) or to remove (<see cref="Remove"/>); slots then hold the surviving
/// originals in their original order, renumbered 0..E'−1. <see cref="Replace"/> puts custom tensors (a
/// merged expert and its router row) into a slot. Layers the plan does not name keep all their experts.
/// MTP layers (DeepSeek-V3 / GLM <c>num_nextn_predict_layers</c>) are named by their index like any sparse layer
/// (<see cref="Selectors.MtpExpertSelection"/> fills them by a weight-only rule), or removed with
/// <see cref="DropMtpLayers"/>. Nothing is checked against a model here: <see cref="ExpertSurgery.Validate"/> does
/// that, before any write.
/// </summary>
public sealed class ExpertPlan
{
    /// <summary>The index that names a layer's shared expert (Qwen2-MoE); it can never be removed.</summary>
    public const int SharedExpert = -1;

    private readonly SortedDictionary<int, int[]> _named = [];                 // layer → kept or removed originals
    private readonly bool _namesKept;
    private readonly SortedDictionary<int, SortedDictionary<int, (ExpertTensors Tensors, int? DerivedFrom)>> _replaced = [];

    private ExpertPlan(bool namesKept) => _namesKept = namesKept;

    /// <summary>A removal plan: for each named layer, the original expert indices that survive (sorted into original order).</summary>
    public static ExpertPlan Keep(IReadOnlyDictionary<int, IReadOnlyList<int>> keptOriginalIndicesPerLayer)
    {
        var plan = new ExpertPlan(namesKept: true);
        foreach (var (layer, kept) in keptOriginalIndicesPerLayer) plan._named[layer] = kept.Order().ToArray();
        return plan;
    }

    /// <summary>A removal plan: for each named layer, the original expert indices to remove.</summary>
    public static ExpertPlan Remove(IReadOnlyDictionary<int, IReadOnlyList<int>> removedOriginalIndicesPerLayer)
    {
        var plan = new ExpertPlan(namesKept: false);
        foreach (var (layer, removed) in removedOriginalIndicesPerLayer) plan._named[layer] = removed.Order().ToArray();
        return plan;
    }

    /// <summary>
    /// Puts a custom expert into slot <paramref name="newSlot"/> (0-based, after removal) of <paramref name="layer"/>:
    /// gate/up (I, H), down (H, I), router row (H) or (1, H). The tensors are copied at Apply/Export time.
    /// <paramref name="derivedFrom"/> is the original expert the slot records (<see cref="ExpertSlot.Original"/>): by
    /// default the one the slot would hold, <see cref="ExpertSlot.NoOriginal"/> for a merge of several.
    /// <paramref name="scoreCorrectionBias"/> (a scalar) is the slot's <c>e_score_correction_bias</c> entry where the router
    /// has one; without it the entry of <paramref name="derivedFrom"/> is kept.
    /// </summary>
    public void Replace(int layer, int newSlot, PlannedTensor gateProj, PlannedTensor upProj, PlannedTensor downProj, Tensor routerRow,
                        int? derivedFrom = null, Tensor? scoreCorrectionBias = null) =>
        Replace(layer, newSlot, new ExpertTensors(gateProj, upProj, downProj, routerRow, scoreCorrectionBias), derivedFrom);

    /// <summary>As above with the slot's tensors in one record.</summary>
    public void Replace(int layer, int newSlot, ExpertTensors tensors, int? derivedFrom = null)
    {
        if (!_replaced.TryGetValue(layer, out var slots)) _replaced[layer] = slots = [];
        if (!slots.TryAdd(newSlot, (tensors, derivedFrom)))
            throw new MoePruneException($"expert plan: layer {layer} slot {newSlot} is replaced twice");
    }

    /// <summary>
    /// Remove every MTP layer (<c>model.layers.{≥ num_hidden_layers}.*</c>) and write <c>num_nextn_predict_layers: 0</c>,
    /// instead of pruning them to the main layers' expert count.
    /// </summary>
    public bool DropMtpLayers { get; set; }

    /// <summary>Layers the plan names (by keep/remove lists or replacements), ascending.</summary>
    public IEnumerable<int> Layers => _named.Keys.Concat(_replaced.Keys).Distinct().Order();

    /// <summary>
    /// The slots of every sparse layer of a model with <paramref name="experts"/>(layer) experts, and the list of
    /// everything wrong with the plan for it (empty when valid). Layer checks need <paramref name="isMoe"/>.
    /// </summary>
    internal (SortedDictionary<int, ExpertSlot[]> Slots, List<string> Problems) Resolve(
        int numLayers, Func<int, bool> isMoe, Func<int, int> experts, bool hasSharedExpert)
    {
        var problems = new List<string>();
        foreach (var layer in Layers)
        {
            if (layer < 0 || layer >= numLayers) problems.Add($"layer {layer} does not exist (the model has {numLayers} layers)");
            else if (!isMoe(layer)) problems.Add($"layer {layer} is a dense layer and has no routed experts to prune");
        }
        var slots = new SortedDictionary<int, ExpertSlot[]>();
        for (int layer = 0; layer < numLayers; layer++)
        {
            if (!isMoe(layer)) continue;
            int n = experts(layer);
            var originals = Originals(layer, n, hasSharedExpert, problems);
            slots[layer] = originals.Select(e => new ExpertSlot(e)).ToArray();
            if (!_replaced.TryGetValue(layer, out var custom)) continue;
            foreach (var (slot, (tensors, derivedFrom)) in custom)
            {
                if (slot < 0 || slot >= originals.Length)
                    problems.Add($"layer {layer}: replaced slot {slot} is outside 0..{originals.Length - 1}");
                else if (derivedFrom is { } d && (d < ExpertSlot.NoOriginal || d >= n))
                    problems.Add($"layer {layer}: slot {slot} derives from expert {d}, which does not exist ({n} experts)");
                else
                    slots[layer][slot] = new ExpertSlot(derivedFrom ?? originals[slot], tensors);
            }
        }
        return (slots, problems);
    }

    private int[] Originals(int layer, int n, bool hasSharedExpert, List<string> problems)
    {
        if (!_named.TryGetValue(layer, out var named)) return Enumerable.Range(0, n).ToArray();   // not named: all kept
        if (named.Contains(SharedExpert))
            problems.Add(hasSharedExpert
                ? $"layer {layer}: the shared expert cannot be removed or kept selectively (only routed experts can)"
                : $"layer {layer}: expert {SharedExpert} names a shared expert, and this model has none");
        var outside = named.Where(e => e != SharedExpert && (e < 0 || e >= n)).ToList();
        if (outside.Count > 0) problems.Add($"layer {layer}: expert(s) {string.Join(", ", outside)} do not exist ({n} experts)");
        var twice = named.GroupBy(e => e).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (twice.Count > 0) problems.Add($"layer {layer}: expert(s) {string.Join(", ", twice)} named more than once");
        var valid = named.Where(e => e >= 0 && e < n).Distinct();
        if (_namesKept) return valid.ToArray();
        return Enumerable.Range(0, n).Except(valid).ToArray();
    }
}
