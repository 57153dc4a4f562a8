using System.Text.RegularExpressions;
using MoePrune.IO;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// One checkpoint tensor and the canonical tensors (the model's state-dict names) it holds: itself whole, or (fused
/// layout) a slice per expert. <paramref name="ScaleName"/> is set for an FP8 weight: the stored <c>_scale_inv</c> its
/// codes are dequantized with.
/// </summary>
public sealed record TensorPlacement(string DiskName, IReadOnlyList<PlacementTarget> Targets, long[] ExpectedShape, string? ScaleName = null)
{
    /// <summary>A per-expert / plain tensor copied whole into one parameter.</summary>
    public bool IsWhole => Targets.Count == 1 && Targets[0].Expert < 0;
}

/// <summary>
/// A canonical tensor inside a checkpoint tensor: all of it (<paramref name="Expert"/> −1), or rows
/// [<paramref name="RowOffset"/>, <paramref name="RowOffset"/> + <paramref name="Rows"/>) of expert
/// <paramref name="Expert"/>'s block of a fused [E, R, C] tensor, which are contiguous on disk.
/// </summary>
public sealed record PlacementTarget(string Param, int Expert, long RowOffset, long Rows)
{
    /// <summary>The canonical tensor's shape inside a disk tensor of <paramref name="diskShape"/>.</summary>
    public long[] Shape(long[] diskShape) => Expert < 0 ? diskShape : [Rows, diskShape[2]];

    /// <summary>Its first flat element inside a disk tensor of <paramref name="diskShape"/>.</summary>
    public long ElementOffset(long[] diskShape) => Expert < 0 ? 0 : (Expert * diskShape[1] + RowOffset) * diskShape[2];
}

/// <summary>
/// Maps checkpoint tensor names onto the model's state-dict keys, for both on-disk layouts: per-expert
/// (the names the model uses) and transformers-v5 fused experts (<c>mlp.experts.gate_up_proj [E, 2I, H]</c>,
/// gate rows first, and <c>mlp.experts.down_proj [E, H, I]</c>; Mixtral's fused form also renames
/// <c>block_sparse_moe</c> to <c>mlp</c>). This is the one place that knows the fused names.
/// <see cref="Place"/> needs only the config (tensor sources use it without building a model);
/// <see cref="Plan"/> is strict: missing, unexpected and twice-stored names and wrong shapes are errors; MTP layers are
/// parameters of the model like any other layer; an F8_E4M3 weight must come with exactly one float32
/// <c>…_scale_inv</c> of the block shape the config's <c>quantization_config</c> implies.
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
        var fp8Problems = new List<string>();
        foreach (var (name, entry) in disk.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (IsFp8Scale(name, disk)) continue;                                        // read with its weight
            var placement = Place(name, entry.Shape, config);
            if (entry.Dtype == SafeDtype.F8_E4M3)
            {
                if (Fp8Problem(name, entry, placement, disk, config) is string problem)
                {
                    fp8Problems.Add(problem);                                            // reported after missing/unexpected names
                    foreach (var t in placement.Targets) covered.Add(t.Param);
                    continue;
                }
                placement = placement with { ScaleName = Quantization.Fp8.Fp8Weights.ScaleName(name) };
            }
            if (placement.IsWhole)
            {
                if (!parameters.TryGetValue(placement.Targets[0].Param, out var shape)) { unexpected.Add(name); continue; }
                placement = placement with { ExpectedShape = shape };
            }
            else if (placement.Targets.Any(t => !parameters.ContainsKey(t.Param))) { unexpected.Add(name); continue; }
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
            if (unexpected.Any(u => TensorOrder.LayerOf(u) >= config.StoredLayers))
                parts.Add($"layers from {config.NumHiddenLayers} on are MTP layers only as far as {MoeConfigParser.MtpLayersKey} = {config.NumMtpLayers} says");
            throw new MoePruneException($"{source}: checkpoint tensors do not match the {config.ModelType} config: {string.Join("; ", parts)}",
                missing.Select(m => "missing " + m).Concat(unexpected.Select(u => "unexpected " + u)).ToList());
        }
        if (duplicates.Count > 0)
            throw new MoePruneException($"{source}: {duplicates.Count} parameters are stored twice (per-expert and fused?): {MoePruneException.Summarize(duplicates, 3)}", duplicates);
        if (fp8Problems.Count > 0)
            throw new MoePruneException($"{source}: {fp8Problems.Count} FP8 weight(s) cannot be loaded: {MoePruneException.Summarize(fp8Problems, 3)}", fp8Problems);
        if (badShapes.Count > 0)
            throw new MoePruneException($"{source}: {badShapes.Count} tensors have shapes the config does not imply: {MoePruneException.Summarize(badShapes, 3)}", badShapes);
        return placements;
    }

    /// <summary>True for <c>X_scale_inv</c> where X is stored as F8_E4M3 (its scale, read together with it).</summary>
    public static bool IsFp8Scale(string name, IReadOnlyDictionary<string, TensorEntry> disk) =>
        name.EndsWith(Quantization.Fp8.Fp8Weights.ScaleSuffix, StringComparison.Ordinal)
        && disk.TryGetValue(name[..^Quantization.Fp8.Fp8Weights.ScaleSuffix.Length], out var weight)
        && weight.Dtype == SafeDtype.F8_E4M3;

    /// <summary>Why FP8 weight <paramref name="name"/> cannot be loaded (no quantization_config, no or a misshapen scale, not a plain 2-D tensor), or null.</summary>
    private static string? Fp8Problem(string name, TensorEntry entry, TensorPlacement placement,
                                      IReadOnlyDictionary<string, TensorEntry> disk, MoeConfig config)
    {
        if (config.Fp8 is not { } q) return $"{name} is F8_E4M3 but config.json has no block-FP8 quantization_config";
        if (!placement.IsWhole || entry.Shape.Length != 2) return $"{name} is F8_E4M3 but not a plain 2-D weight";
        string scaleName = Quantization.Fp8.Fp8Weights.ScaleName(name);
        if (!disk.TryGetValue(scaleName, out var scale)) return $"{name} is F8_E4M3 without its {scaleName}";
        var expected = Quantization.Fp8.BlockFp8.ScaleShape(entry.Shape[0], entry.Shape[1], q.BlockRows, q.BlockCols);
        if (scale.Dtype != SafeDtype.F32 || !scale.Shape.SequenceEqual(expected))
            return $"{scaleName} {scale.Dtype}[{string.Join(", ", scale.Shape)}], expected F32[{string.Join(", ", expected)}] for {q.BlockRows}x{q.BlockCols} blocks";
        return null;
    }

    /// <summary>
    /// The canonical tensors that checkpoint tensor <paramref name="name"/> (stored with <paramref name="diskShape"/>)
    /// holds, from the config alone: per-expert slices of a fused tensor of a sparse layer, Mixtral's v5 <c>mlp.*</c>
    /// renamed to <c>block_sparse_moe.*</c>, or the tensor itself under its own name. Whether that name is a
    /// parameter of the model is for <see cref="Plan"/> to decide.
    /// </summary>
    public static TensorPlacement Place(string name, long[] diskShape, MoeConfig config)
    {
        var fused = FusedName().Match(name);
        if (fused.Success && IsSparse(config, int.Parse(fused.Groups[1].Value)))
            return Fused(name, int.Parse(fused.Groups[1].Value), fused.Groups[2].Value, config);
        // Mixtral in the v5 layout names the sparse block "mlp" (mlp.gate.weight).
        var mlp = MlpName().Match(name);
        if (mlp.Success && config.Family.MoeModuleName != "mlp" && IsSparse(config, int.Parse(mlp.Groups[1].Value)))
            return Whole(name, $"model.layers.{mlp.Groups[1].Value}.{config.Family.MoeModuleName}.{mlp.Groups[2].Value}", diskShape);
        return Whole(name, name, diskShape);
    }

    private static bool IsSparse(MoeConfig config, int layer) => layer < config.NumHiddenLayers && config.IsMoeLayer(layer);

    private static TensorPlacement Whole(string diskName, string param, long[] shape) => new(diskName, [new PlacementTarget(param, -1, 0, 0)], shape);

    private static TensorPlacement Fused(string name, int layer, string kind, MoeConfig config)
    {
        int experts = config.ExpertsInLayer(layer), inter = config.ExpertIntermediateSize, hidden = config.HiddenSize;
        var prefix = $"model.layers.{layer}.{config.Family.MoeModuleName}.experts.";
        var (gate, up, down) = config.Family.ExpertProjNames;
        var targets = new List<PlacementTarget>();
        for (int e = 0; e < experts; e++)
        {
            if (kind == "gate_up_proj")
            {
                targets.Add(new($"{prefix}{e}.{gate}.weight", e, 0, inter));   // rows [0, I) of [2I, H]
                targets.Add(new($"{prefix}{e}.{up}.weight", e, inter, inter)); // rows [I, 2I)
            }
            else targets.Add(new($"{prefix}{e}.{down}.weight", e, 0, hidden)); // whole [H, I]
        }
        long[] shape = kind == "gate_up_proj" ? [experts, 2L * inter, hidden] : [experts, hidden, inter];
        return new TensorPlacement(name, targets, shape);
    }
}
