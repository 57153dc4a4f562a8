using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Pruning;

/// <summary>
/// An <see cref="ExpertPlan"/> checked against a model config: the slots of every sparse layer and the
/// config of the result (uniform expert count under the family's key, or per-layer counts in
/// <c>moeprune_experts_per_layer</c> for a non-portable result).
/// </summary>
public sealed class ResolvedExpertPlan
{
    public required MoeConfig Source { get; init; }
    public required MoeConfig Config { get; init; }
    /// <summary>Sparse-layer index → new slots in order.</summary>
    public required IReadOnlyDictionary<int, ExpertSlot[]> Slots { get; init; }

    /// <summary>True when layers end up with different expert counts (needs the non-portable config key).</summary>
    public bool IsNonUniform => Config.ExpertsPerLayer is not null;

    /// <summary>Checks the plan against <paramref name="config"/>; throws one line listing every problem.</summary>
    public static ResolvedExpertPlan Resolve(MoeConfig config, ExpertPlan plan, bool allowNonUniform)
    {
        var (slots, problems) = plan.Resolve(config.NumHiddenLayers, config.IsMoeLayer, config.ExpertsInLayer, config.Family.HasSharedExpert);
        foreach (var (layer, layerSlots) in slots)
        {
            if (layerSlots.Length < config.TopK)
                problems.Add($"layer {layer} would keep {layerSlots.Length} experts, fewer than num_experts_per_tok = {config.TopK}");
            for (int s = 0; s < layerSlots.Length; s++)
                if (layerSlots[s].Custom is { } custom)
                {
                    CheckShapes(config, layer, s, custom, problems);
                    if (layerSlots[s].Original == ExpertSlot.NoOriginal && config.Family.RouterTensorNames.Count > 1)
                        problems.Add($"layer {layer} slot {s}: a custom expert with no original has no row for router tensor(s) "
                                     + string.Join(", ", config.Family.RouterTensorNames.Skip(1)));
                }
        }
        var counts = slots.Values.Select(s => s.Length).Distinct().ToList();
        if (counts.Count > 1 && !allowNonUniform)
            problems.Add("expert counts differ across layers (" + string.Join(", ", slots.Select(kv => $"layer {kv.Key}: {kv.Value.Length}"))
                         + "); stock loaders need one count per model, so request a non-portable export to record them in "
                         + MoeConfigParser.ExpertsPerLayerKey);
        if (problems.Count > 0)
            throw new MoePruneException($"{config.Path}: expert plan refused, {problems.Count} problem(s): "
                + string.Join("; ", problems.Take(3)) + (problems.Count > 3 ? $"; and {problems.Count - 3} more" : ""), problems);

        var newConfig = counts.Count switch
        {
            0 => config.WithExperts(config.NumExperts),
            1 => config.WithExperts(counts[0]),
            _ => config.WithExperts(counts.Max(), Enumerable.Range(0, config.NumHiddenLayers)
                                                         .Select(l => slots.TryGetValue(l, out var s) ? s.Length : 0).ToArray()),
        };
        return new ResolvedExpertPlan { Source = config, Config = newConfig, Slots = slots };
    }

    /// <summary>Custom experts must match the layer's per-expert shapes: gate/up (I, H), down (H, I), router row (H).</summary>
    private static void CheckShapes(MoeConfig config, int layer, int slot, ExpertTensors t, List<string> problems)
    {
        long h = config.HiddenSize, i = config.ExpertIntermediateSize;
        void Check(string what, Tensor x, params long[][] allowed)
        {
            if (!x.is_floating_point())
                problems.Add($"layer {layer} slot {slot}: {what} has dtype {x.dtype}, expected a floating-point tensor");
            else if (!allowed.Any(s => x.shape.SequenceEqual(s)))
                problems.Add($"layer {layer} slot {slot}: {what} has shape [{string.Join(", ", x.shape)}], expected [{string.Join(", ", allowed[0])}]");
        }
        Check("gate_proj", t.GateProj, [i, h]);
        Check("up_proj", t.UpProj, [i, h]);
        Check("down_proj", t.DownProj, [h, i]);
        Check("router row", t.RouterRow, [h], [1, h]);
    }
}
