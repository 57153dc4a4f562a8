using System.Text.RegularExpressions;
using MoePrune.IO;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>One checkpoint tensor and the parameters it fills: whole, or (fused layout) a slice per expert.</summary>
public sealed record TensorPlacement(string DiskName, IReadOnlyList<(string Param, int Expert, long RowOffset, long Rows)> Targets, long[] ExpectedShape)
{
    /// <summary>A per-expert / plain tensor copied whole into one parameter.</summary>
    public bool IsWhole => Targets.Count == 1 && Targets[0].Expert < 0;
}

/// <summary>
/// Maps checkpoint tensor names onto the model's state-dict keys, for both on-disk layouts: per-expert
/// (the names the model uses) and transformers-v5 fused experts (<c>mlp.experts.gate_up_proj [E, 2I, H]</c>,
/// gate rows first, and <c>mlp.experts.down_proj [E, H, I]</c>; Mixtral's fused form also renames
/// <c>block_sparse_moe</c> to <c>mlp</c>). Strict: missing, unexpected and twice-stored names and wrong shapes are errors.
/// </summary>
public static partial class CheckpointLayout
{
    [GeneratedRegex(@"^model\.layers\.(\d+)\.mlp\.experts\.(gate_up_proj|down_proj)$")]
    private static partial Regex FusedName();

    [GeneratedRegex(@"^model\.layers\.(\d+)\.mlp\.(.+)$")]
    private static partial Regex MlpName();

    /// <summary>Plans where every checkpoint tensor goes; throws one line listing missing / unexpected / misshapen tensors.</summary>
    public static IReadOnlyList<TensorPlacement> Plan(MoeForCausalLM model, IReadOnlyDictionary<string, TensorEntry> disk, string source)
    {
        var config = model.Config;
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var placements = new List<TensorPlacement>();
        var unexpected = new List<string>();
        var badShapes = new List<string>();
        var covered = new HashSet<string>();
        var duplicates = new List<string>();
        foreach (var (name, entry) in disk.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var placement = Place(name, config, parameters);
            if (placement is null) { unexpected.Add(name); continue; }
            if (!entry.Shape.SequenceEqual(placement.ExpectedShape))
                badShapes.Add($"{name} [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", placement.ExpectedShape)}]");
            foreach (var t in placement.Targets)
                if (!covered.Add(t.Param)) duplicates.Add($"{t.Param} (again from {name})");
            placements.Add(placement);
        }
        var missing = parameters.Keys.Where(k => !covered.Contains(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"{missing.Count} missing ({MoePruneException.Summarize(missing)})");
            if (unexpected.Count > 0) parts.Add($"{unexpected.Count} unexpected ({MoePruneException.Summarize(unexpected)})");
            throw new MoePruneException($"{source}: checkpoint tensors do not match the {config.ModelType} config: {string.Join("; ", parts)}",
                missing.Select(m => "missing " + m).Concat(unexpected.Select(u => "unexpected " + u)).ToList());
        }
        if (duplicates.Count > 0)
            throw new MoePruneException($"{source}: {duplicates.Count} parameters are stored twice (per-expert and fused?): {MoePruneException.Summarize(duplicates, 3)}", duplicates);
        if (badShapes.Count > 0)
            throw new MoePruneException($"{source}: {badShapes.Count} tensors have shapes the config does not imply: {MoePruneException.Summarize(badShapes, 3)}", badShapes);
        return placements;
    }

    private static TensorPlacement? Place(string name, MoeConfig config, Dictionary<string, long[]> parameters)
    {
        if (parameters.TryGetValue(name, out var shape))
            return new TensorPlacement(name, [(name, -1, 0, 0)], shape);
        var fused = FusedName().Match(name);
        if (fused.Success)
        {
            int layer = int.Parse(fused.Groups[1].Value);
            if (layer >= config.NumHiddenLayers || !config.IsMoeLayer(layer)) return null;
            return Fused(name, layer, fused.Groups[2].Value, config);
        }
        // Mixtral in the v5 layout names the sparse block "mlp" (mlp.gate.weight).
        var mlp = MlpName().Match(name);
        if (mlp.Success && config.Family.MoeModuleName != "mlp")
        {
            var renamed = $"model.layers.{mlp.Groups[1].Value}.{config.Family.MoeModuleName}.{mlp.Groups[2].Value}";
            if (parameters.TryGetValue(renamed, out var s)) return new TensorPlacement(name, [(renamed, -1, 0, 0)], s);
        }
        return null;
    }

    private static TensorPlacement Fused(string name, int layer, string kind, MoeConfig config)
    {
        int experts = config.ExpertsInLayer(layer), inter = config.ExpertIntermediateSize, hidden = config.HiddenSize;
        var prefix = $"model.layers.{layer}.{config.Family.MoeModuleName}.experts.";
        var (gate, up, down) = config.Family.ExpertProjNames;
        var targets = new List<(string, int, long, long)>();
        for (int e = 0; e < experts; e++)
        {
            if (kind == "gate_up_proj")
            {
                targets.Add(($"{prefix}{e}.{gate}.weight", e, 0, inter));      // rows [0, I) of [2I, H]
                targets.Add(($"{prefix}{e}.{up}.weight", e, inter, inter));    // rows [I, 2I)
            }
            else targets.Add(($"{prefix}{e}.{down}.weight", e, 0, hidden));    // whole [H, I]
        }
        long[] shape = kind == "gate_up_proj" ? [experts, 2L * inter, hidden] : [experts, hidden, inter];
        return new TensorPlacement(name, targets, shape);
    }
}
