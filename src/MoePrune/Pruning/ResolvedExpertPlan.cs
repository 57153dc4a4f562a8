using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Pruning;

/// <summary>
/// An <see cref="ExpertPlan"/> checked against a model config: the slots of every sparse layer (MTP layers included
/// unless they are dropped) and the config of the result (uniform expert count under the family's key, or per-layer
/// counts in <c>moeprune_experts_per_layer</c> for a non-portable result). With group-limited routing every layer must
/// stay group-balanced (<see cref="GroupBalance"/>); MTP layers must end with the main layers' count.
/// </summary>
public sealed class ResolvedExpertPlan
{
    public required MoeConfig Source { get; init; }
    public required MoeConfig Config { get; init; }
    /// <summary>Sparse-layer index → new slots in order.</summary>
    public required IReadOnlyDictionary<int, ExpertSlot[]> Slots { get; init; }

    /// <summary>True when layers end up with different expert counts (needs the non-portable config key).</summary>
    public bool IsNonUniform => Config.ExpertsPerLayer is not null;

    /// <summary>True when the source's MTP layers are left out of the result (<see cref="ExpertPlan.DropMtpLayers"/>).</summary>
    public bool DropsMtpLayers { get; init; }

    /// <summary>Checks the plan against <paramref name="config"/>; throws one line listing every problem.</summary>
    public static ResolvedExpertPlan Resolve(MoeConfig config, ExpertPlan plan, bool allowNonUniform)
    {
        bool dropMtp = plan.DropMtpLayers && config.NumMtpLayers > 0;
        int layers = dropMtp ? config.NumHiddenLayers : config.StoredLayers;
        var (slots, problems) = plan.Resolve(layers, config.IsMoeLayer, config.ExpertsInLayer, config.Family.HasSharedExpert);
        if (dropMtp)
            problems.AddRange(plan.Layers.Where(config.IsMtpLayer).Select(l => $"layer {l} is an MTP layer, and the plan drops the MTP layers"));
        foreach (var (layer, layerSlots) in slots)
        {
            if (layerSlots.Length < config.TopK)
                problems.Add($"layer {layer} would keep {layerSlots.Length} experts, fewer than num_experts_per_tok = {config.TopK}");
            for (int s = 0; s < layerSlots.Length; s++)
                if (layerSlots[s].Custom is { } custom)
                {
                    CheckShapes(config, layer, s, custom, problems);
                    if (layerSlots[s].Original == ExpertSlot.NoOriginal && custom.ScoreCorrectionBias is null
                        && config.Family.RouterTensorNames.Count > 1)
                        problems.Add($"layer {layer} slot {s}: a custom expert with no original has no row for router tensor(s) "
                                     + string.Join(", ", config.Family.RouterTensorNames.Skip(1)) + " (give its bias entry or the expert it derives from)");
                }
        }
        var main = slots.Where(kv => !config.IsMtpLayer(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
        var counts = main.Values.Select(s => s.Length).Distinct().ToList();
        foreach (var count in counts.Where(c => !config.Groups.IsGroupLimited || c % config.Groups.NGroup == 0)) // else GroupBalance says why
            if (config.Family.ExpertCountProblem(config, count) is string countProblem)
                problems.Add($"{count} routed experts per layer are not possible for {config.ModelType}: {countProblem}");
        problems.AddRange(GroupBalance.Problems(config, slots));
        problems.AddRange(MtpProblems(config, slots, counts));
        if (counts.Count > 1 && !allowNonUniform)
            problems.Add("expert counts differ across layers (" + string.Join(", ", slots.Select(kv => $"layer {kv.Key}: {kv.Value.Length}"))
                         + "); stock loaders need one count per model, so request a non-portable export to record them in "
                         + MoeConfigParser.ExpertsPerLayerKey);
        if (problems.Count > 0)
            throw new MoePruneException($"{config.Path}: expert plan refused, {problems.Count} problem(s): "
                + string.Join("; ", problems.Take(3)) + (problems.Count > 3 ? $"; and {problems.Count - 3} more" : ""), problems);

        var kept = dropMtp ? config.WithoutMtpLayers() : config;
        var newConfig = counts.Count switch
        {
            0 => kept.WithExperts(config.NumExperts),
            1 => kept.WithExperts(counts[0]),
            _ => kept.WithExperts(counts.Max(), Enumerable.Range(0, config.NumHiddenLayers)
                                                        .Select(l => main.TryGetValue(l, out var s) ? s.Length : 0).ToArray()),
        };
        return new ResolvedExpertPlan { Source = config, Config = newConfig, Slots = slots, DropsMtpLayers = dropMtp };
    }

    /// <summary>
    /// MTP layers share <c>n_routed_experts</c> with the main model (vLLM and llama.cpp size them by it): each must end with
    /// the main layers' count, or the plan must drop them.
    /// </summary>
    private static IEnumerable<string> MtpProblems(MoeConfig config, IReadOnlyDictionary<int, ExpertSlot[]> slots, List<int> mainCounts)
    {
        if (mainCounts.Count != 1) yield break;                                          // non-uniform: the config parser refuses MTP
        foreach (var (layer, layerSlots) in slots.Where(kv => config.IsMtpLayer(kv.Key)))
            if (layerSlots.Length != mainCounts[0])
                yield return $"MTP layer {layer} would keep {layerSlots.Length} experts while the other sparse layers keep {mainCounts[0]} "
                             + $"({config.Family.ExpertCountKey} is shared): prune it to the same count or drop the MTP layers";
    }

    /// <summary>Custom experts must match the layer's per-expert shapes: gate/up (I, H), down (H, I), router row (H).</summary>
    private static void CheckShapes(MoeConfig config, int layer, int slot, ExpertTensors t, List<string> problems)
    {
        long h = config.HiddenSize, i = config.ExpertIntermediateSize;
        void Check(string what, PlannedTensor x, params long[][] allowed)
        {
            if (!x.IsFloatingPoint)
                problems.Add($"layer {layer} slot {slot}: {what} has dtype {x.Dtype}, expected a floating-point tensor");
            else if (!allowed.Any(s => x.Shape.SequenceEqual(s)))
                problems.Add($"layer {layer} slot {slot}: {what} has shape [{string.Join(", ", x.Shape)}], expected [{string.Join(", ", allowed[0])}]");
        }
        Check("gate_proj", t.GateProj, [i, h]);
        Check("up_proj", t.UpProj, [i, h]);
        Check("down_proj", t.DownProj, [h, i]);
        Check("router row", t.RouterRow, [h], [1, h]);
        if (t.ScoreCorrectionBias is { } bias)
        {
            if (!config.Family.RouterScoreCorrectionBias)
                problems.Add($"layer {layer} slot {slot}: a score-correction bias was given but {config.ModelType} routers have none");
            else Check("score-correction bias", bias, [], [1]);
        }
    }
}
