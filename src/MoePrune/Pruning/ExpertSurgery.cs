using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Quantization.Fp8;
using static TorchSharp.torch;

namespace MoePrune.Pruning;

/// <summary>
/// Removes or replaces routed experts. The result keeps Hugging Face's layout: the family's expert-count
/// key updated, surviving experts renumbered 0..E'−1 in their original order, router rows gathered in the
/// same order; shared experts, dense layers, every other tensor and every other config key untouched.
/// Every refusal (top-k larger than the experts left, a dense layer or a shared expert named, unequal
/// counts without an explicit non-portable request, bad replacement shapes, a source lacking a tensor) happens
/// before anything is built or written. Works on any <see cref="ITensorSource"/>: the live model or a checkpoint directory.
/// </summary>
public static class ExpertSurgery
{
    /// <summary>Throws a <see cref="MoePruneException"/> listing every problem of <paramref name="plan"/> for <paramref name="config"/>.</summary>
    public static void Validate(MoeConfig config, ExpertPlan plan, bool allowNonUniform) =>
        ResolvedExpertPlan.Resolve(config, plan, allowNonUniform);

    /// <summary>
    /// A new in-memory model (same dtype, no observers) with the plan applied. The input model is not changed. A model
    /// loaded from FP8 gives one whose weights are what the export would store, dequantized (re-quantized custom experts
    /// included), with the scales recorded in its <see cref="MoeForCausalLM.Fp8"/>: Apply equals export and reload.
    /// </summary>
    public static MoeForCausalLM Apply(MoeForCausalLM model, ExpertPlan plan, bool allowNonUniform = false)
    {
        var resolved = ResolvedExpertPlan.Resolve(model.Config, plan, allowNonUniform);
        using var source = new ModelTensorSource(model);
        var tensors = ExpertSurgeryTensors.Plan(source, resolved).ToDictionary(t => t.Name);
        var pruned = new MoeForCausalLM(resolved.Config, model.Dtype, mtpHead: model.MtpLayout);
        try
        {
            var targets = pruned.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            var scales = tensors.Values.Where(t => t.Dtype == SafeDtype.F8_E4M3).Select(t => Fp8Weights.ScaleName(t.Name)).ToHashSet();
            if (tensors.Count != targets.Count + scales.Count || targets.Keys.Any(n => !tensors.ContainsKey(n)) || scales.Any(n => !tensors.ContainsKey(n)))
                throw new InvalidOperationException("surgery produced tensors that do not match the pruned model's parameters");
            var fp8 = scales.Count > 0 ? new Fp8Weights(resolved.Config.Fp8!) : null;
            pruned.Fp8 = fp8;
            using var noGrad = no_grad();
            foreach (var (name, target) in targets)
            {
                using var scope = NewDisposeScope();
                var t = tensors[name];
                if (t.Dtype != SafeDtype.F8_E4M3)
                {
                    target.copy_(t.Value());
                    continue;
                }
                var scale = tensors[Fp8Weights.ScaleName(name)].Value();                     // (R/b0, C/b1) fp32
                target.copy_(fp8!.Dequantize(t.Value(), scale, name));                       // (R, C) → model dtype
                fp8.Add(name, scale);
            }
        }
        catch
        {
            pruned.Dispose();
            throw;
        }
        pruned.eval();
        return pruned;
    }

    /// <summary>
    /// Writes the pruned checkpoint to <paramref name="outDir"/> from the live model (see the
    /// <see cref="Export(ITensorSource, ExpertPlan, ICheckpointSink, bool, IReadOnlyDictionary{string, JsonNode}?)"/>
    /// overload): a Hugging Face directory with shards of at most <paramref name="maxShardBytes"/> and the tokenizer
    /// files of <paramref name="copyAuxFrom"/>.
    /// </summary>
    public static void Export(MoeForCausalLM model, ExpertPlan plan, string outDir, bool allowNonUniform = false,
                              string? copyAuxFrom = null, long maxShardBytes = 5_000_000_000,
                              IReadOnlyDictionary<string, JsonNode>? extraFiles = null)
    {
        using var source = new ModelTensorSource(model);
        Export(source, plan, new SafetensorsCheckpointSink(outDir, maxShardBytes, copyAuxFrom), allowNonUniform, extraFiles);
    }

    /// <summary>
    /// Writes the pruned checkpoint into <paramref name="sink"/> without building it: tensors stream from
    /// <paramref name="source"/> one at a time (untouched tensors and surviving experts copied byte for byte, one
    /// router tensor gathered at a time), so a checkpoint directory source is pruned shard to shard without ever
    /// building the model. config.json is the source's with only the expert count changed (plus the dtype key when
    /// the source holds another dtype than the config names). <paramref name="extraFiles"/> (e.g. pruning.json) land
    /// in the same all-or-nothing output. The result is byte-identical whichever source holds the same tensors.
    /// </summary>
    public static void Export(ITensorSource source, ExpertPlan plan, ICheckpointSink sink, bool allowNonUniform = false,
                              IReadOnlyDictionary<string, JsonNode>? extraFiles = null)
    {
        var resolved = ResolvedExpertPlan.Resolve(source.Config, plan, allowNonUniform);
        var tensors = ExpertSurgeryTensors.Plan(source, resolved);
        long total = tensors.Sum(t => t.ToOutput().Bytes), done = 0;
        sink.Write(resolved.Config.ToJson(source.DtypeOverride), tensors.Select(t =>
        {
            var output = t.ToOutput();
            return new OutputTensor(output.Name, output.Dtype, output.Shape, stream =>
            {
                t.WriteBytes(stream);
                Progress.StepProgress.Report("export", done += output.Bytes, total, "bytes");
            });
        }), extraFiles);
    }

    /// <summary>A removal plan from kept-index lists, e.g. a selection's <c>Kept</c> per layer.</summary>
    public static ExpertPlan KeepPlan(IEnumerable<LayerSelection> selections) =>
        ExpertPlan.Keep(selections.ToDictionary(s => s.LayerIndex, s => (IReadOnlyList<int>)s.Kept));
}
