using System.Text.RegularExpressions;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Quantization.Fp8;
using static TorchSharp.torch;

namespace MoePrune.Pruning;

/// <summary>
/// One tensor of a pruned model: name, dtype and shape known up front; its values computed, or its bytes
/// copied, only when asked. <see cref="Value"/> returns a handle the caller disposes; <see cref="WriteBytes"/>
/// writes the stored bytes (untouched tensors and surviving experts are copied byte for byte from the source).
/// </summary>
internal sealed record SurgeryTensor(string Name, SafeDtype Dtype, long[] Shape, Func<Tensor> Value, Action<Stream> WriteBytes)
{
    public OutputTensor ToOutput() => new(Name, Dtype, Shape, WriteBytes);
}

/// <summary>
/// The state dict of a pruned model, planned from a tensor source and a resolved plan, in <see cref="TensorOrder"/>:
/// every tensor the plan does not touch comes from the source unchanged (the MTP layers' left out when the plan drops
/// them); the routed experts of each sparse layer under their new slot numbers (surviving originals copied byte for
/// byte — an FP8 expert with its <c>weight_scale_inv</c> — and custom experts converted to the source's dtype, or, in
/// an FP8 layer, block-quantized with fresh scales, <see cref="BlockFp8.Quantize"/>); each router tensor
/// (<see cref="Models.Families.ModelFamily.RouterTensorNames"/>) with its rows gathered in slot order, custom slots' rows
/// written in (the first router tensor takes <see cref="ExpertTensors.RouterRow"/>, the score-correction bias
/// <see cref="ExpertTensors.ScoreCorrectionBias"/> or the derived-from original's entry). Planning reads no tensor data and
/// throws before anything is produced when the source lacks a tensor the plan needs.
/// </summary>
internal static class ExpertSurgeryTensors
{
    public static IReadOnlyList<SurgeryTensor> Plan(ITensorSource source, ResolvedExpertPlan plan)
    {
        var config = source.Config;
        string moe = config.Family.MoeModuleName;
        var expertName = new Regex($@"^model\.layers\.(\d+)\.{Regex.Escape(moe)}\.experts\.(\d+)\.(.+)$");
        var (gate, up, down) = config.Family.ExpertProjNames;
        var projections = new[] { gate, up, down }.Select(p => p + ".weight").ToArray();
        var expertTensors = projections.Concat(projections.Select(Fp8Weights.ScaleName)).ToArray();
        var routers = plan.Slots.Keys
            .SelectMany(l => config.Family.RouterTensorNames.Select((r, k) => (Name: $"model.layers.{l}.{moe}.{r}", Layer: l, First: k == 0)))
            .ToDictionary(r => r.Name);
        var problems = new List<string>();
        var result = new List<SurgeryTensor>();
        foreach (var t in source.Tensors.Values)
        {
            if (plan.DropsMtpLayers && t.Layer is int l && config.IsMtpLayer(l)) continue;
            if (routers.TryGetValue(t.Name, out var router))
            {
                if (t.Shape.Length == 0 || t.Shape[0] != config.ExpertsInLayer(router.Layer))
                    problems.Add($"{t.Name} has shape [{string.Join(", ", t.Shape)}], expected one row per expert ({config.ExpertsInLayer(router.Layer)})");
                else
                    result.Add(Router(source, t, plan.Slots[router.Layer], router.First));
                continue;
            }
            var m = expertName.Match(t.Name);
            if (m.Success && plan.Slots.ContainsKey(int.Parse(m.Groups[1].Value)))
            {
                if (!expertTensors.Contains(m.Groups[3].Value)) problems.Add($"{t.Name} is not one of the expert projections {string.Join(", ", projections)}");
                continue;                                                               // experts are planned per layer below
            }
            result.Add(new SurgeryTensor(t.Name, t.Dtype, t.Shape, () => source.Read(t.Name), s => source.CopyBytes(t.Name, s)));
        }
        problems.AddRange(routers.Keys.Where(r => !source.Tensors.ContainsKey(r)).Select(r => $"{r} is missing"));
        foreach (var (layer, slots) in plan.Slots)
            result.AddRange(Experts(source, $"model.layers.{layer}.{moe}.experts.", projections, slots, problems));
        if (problems.Count > 0)
            throw new MoePruneException($"{source.Description}: cannot apply the expert plan, {problems.Count} problem(s): {MoePruneException.Summarize(problems, 3)}", problems);
        result.Sort((a, b) => TensorOrder.Compare(a.Name, b.Name));
        return result;
    }

    /// <summary>
    /// The experts of one layer in slot order: surviving originals copied (with their FP8 scale where they have one),
    /// custom tensors in the dtype of the originals or, when those are FP8, quantized with fresh block scales.
    /// </summary>
    private static IEnumerable<SurgeryTensor> Experts(ITensorSource source, string prefix, string[] projections, ExpertSlot[] slots, List<string> problems)
    {
        var result = new List<SurgeryTensor>();
        for (int s = 0; s < slots.Length; s++)
            for (int p = 0; p < projections.Length; p++)
            {
                string name = $"{prefix}{s}.{projections[p]}";
                var slot = slots[s];
                if (slot.Custom is { } c)
                {
                    if (!source.Tensors.TryGetValue($"{prefix}0.{projections[p]}", out var like))
                    {
                        problems.Add($"{prefix}0.{projections[p]} is missing");
                        continue;
                    }
                    var custom = p switch { 0 => c.GateProj, 1 => c.UpProj, _ => c.DownProj };     // (I, H) / (H, I)
                    if (like.Dtype == SafeDtype.F8_E4M3)
                    {
                        result.AddRange(QuantizedCustom(source.Config, name, like.Shape, custom, problems));
                        continue;
                    }
                    var dtype = SafeDtypes.ToTorch(like.Dtype);
                    result.Add(new SurgeryTensor(name, like.Dtype, like.Shape, () => Copy(custom, dtype), Writer(() => Copy(custom, dtype))));
                    continue;
                }
                string original = $"{prefix}{slot.Original}.{projections[p]}";
                if (!source.Tensors.TryGetValue(original, out var t))
                {
                    problems.Add($"{original} is missing");
                    continue;
                }
                result.Add(new SurgeryTensor(name, t.Dtype, t.Shape, () => source.Read(original), stream => source.CopyBytes(original, stream)));
                if (t.Dtype != SafeDtype.F8_E4M3) continue;
                string originalScale = Fp8Weights.ScaleName(original);
                if (!source.Tensors.TryGetValue(originalScale, out var scale))
                {
                    problems.Add($"{originalScale} is missing");
                    continue;
                }
                result.Add(new SurgeryTensor(Fp8Weights.ScaleName(name), scale.Dtype, scale.Shape,
                                             () => source.Read(originalScale), stream => source.CopyBytes(originalScale, stream)));
            }
        return result;
    }

    /// <summary>A custom expert tensor for an FP8 layer: its codes and fresh block scales (the quantization runs once per output tensor).</summary>
    private static IEnumerable<SurgeryTensor> QuantizedCustom(MoeConfig config, string name, long[] shape, PlannedTensor custom, List<string> problems)
    {
        if (config.Fp8 is not { } q)
        {
            problems.Add($"{name}: the source holds FP8 experts but its config has no block-FP8 quantization_config");
            return [];
        }
        Tensor Part(bool scale)
        {
            using var scope = NewDisposeScope();
            using var values = custom.Open();
            var (codes, scaleInv) = BlockFp8.Quantize(values.detach(), name, q.ScaleFormat, q.BlockRows, q.BlockCols);
            return (scale ? scaleInv : codes).MoveToOuterDisposeScope();                 // (R, C) uint8 or (R/b0, C/b1) fp32
        }
        var scaleShape = BlockFp8.ScaleShape(shape[0], shape[1], q.BlockRows, q.BlockCols);
        return
        [
            new SurgeryTensor(name, SafeDtype.F8_E4M3, shape, () => Part(false), Writer(() => Part(false))),
            new SurgeryTensor(Fp8Weights.ScaleName(name), SafeDtype.F32, scaleShape, () => Part(true), Writer(() => Part(true))),
        ];
    }

    /// <summary>A router tensor with rows in slot order: original rows gathered, custom rows written in. (E', ...)</summary>
    private static SurgeryTensor Router(ITensorSource source, SourceTensor router, ExpertSlot[] slots, bool takesRouterRow)
    {
        Tensor Gather()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            using var weight = source.Read(router.Name);                                // (E, ...) stored dtype
            var order = tensor(slots.Select(s => s.IsCustom ? 0L : s.Original).ToArray()); // (E') int64, custom rows filled below
            var rows = weight.index_select(0, order);                                    // (E', ...) new tensor
            for (int s = 0; s < slots.Length; s++)
                if (slots[s].Custom is { } c)
                    rows[s].copy_(takesRouterRow ? c.RouterRow.detach().reshape(rows[s].shape)  // (...), converts dtype
                                  : c.ScoreCorrectionBias is { } b ? b.detach().reshape(rows[s].shape)
                                  : weight[slots[s].Original]);                          // validated: has an original
            return rows.MoveToOuterDisposeScope();
        }
        long[] shape = [slots.Length, .. router.Shape[1..]];
        return new SurgeryTensor(router.Name, router.Dtype, shape, Gather, Writer(Gather));
    }

    /// <summary>Writes the bytes of a freshly computed tensor and disposes it.</summary>
    private static Action<Stream> Writer(Func<Tensor> compute) => stream =>
    {
        using var value = compute();
        using var output = OutputTensor.FromTensor("", value);
        output.WriteTo(stream);
    };

    /// <summary>A contiguous CPU copy of a caller's tensor in <paramref name="dtype"/> (the caller keeps ownership).</summary>
    private static Tensor Copy(PlannedTensor planned, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var t = planned.Open();
        return t.detach().to(dtype, CPU, copy: true).contiguous().MoveToOuterDisposeScope();
    }
}
