using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Pruning;

/// <summary>
/// Removes or replaces routed experts. The result keeps Hugging Face's layout: the family's expert-count
/// key updated, surviving experts renumbered 0..E'−1 in their original order, router rows gathered in the
/// same order; shared experts, dense layers, every other tensor and every other config key untouched.
/// Every refusal (top-k larger than the experts left, a dense layer or a shared expert named, unequal
/// counts without an explicit non-portable request, bad replacement shapes) happens in
/// <see cref="Validate"/>, which <see cref="Apply"/> and <see cref="Export"/> run before anything else.
/// </summary>
public static class ExpertSurgery
{
    /// <summary>Throws a <see cref="MoePruneException"/> listing every problem of <paramref name="plan"/> for <paramref name="config"/>.</summary>
    public static void Validate(MoeConfig config, ExpertPlan plan, bool allowNonUniform) =>
        ResolvedExpertPlan.Resolve(config, plan, allowNonUniform);

    /// <summary>The config the surgery produces (validated; expert count or per-layer counts patched).</summary>
    public static MoeConfig ResultConfig(MoeConfig config, ExpertPlan plan, bool allowNonUniform = false) =>
        ResolvedExpertPlan.Resolve(config, plan, allowNonUniform).Config;

    /// <summary>A new in-memory model (same dtype, no observers) with the plan applied. The input model is not changed.</summary>
    public static MoeForCausalLM Apply(MoeForCausalLM model, ExpertPlan plan, bool allowNonUniform = false)
    {
        var resolved = ResolvedExpertPlan.Resolve(model.Config, plan, allowNonUniform);
        var pruned = new MoeForCausalLM(resolved.Config, model.Dtype);
        try
        {
            var targets = pruned.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            var filled = new HashSet<string>();
            using var noGrad = no_grad();
            foreach (var (name, tensor) in ExpertSurgeryTensors.Stream(model, resolved))
                using (tensor)
                {
                    if (!targets.TryGetValue(name, out var target) || !filled.Add(name))
                        throw new InvalidOperationException($"surgery produced an unexpected tensor {name}");
                    target.copy_(tensor);
                }
            if (filled.Count != targets.Count)
                throw new InvalidOperationException($"surgery left {targets.Count - filled.Count} parameters unfilled");
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
    /// Writes the pruned checkpoint to <paramref name="outDir"/> without building it in memory: tensors are
    /// streamed shard by shard from the live model (aliases for untouched tensors, one router at a time).
    /// config.json is the source's with only the expert count changed (plus the dtype key when the model runs
    /// in another dtype than the config names). <paramref name="extraFiles"/> (e.g. pruning.json) and the
    /// tokenizer files of <paramref name="copyAuxFrom"/> land in the same atomically renamed directory.
    /// </summary>
    public static void Export(MoeForCausalLM model, ExpertPlan plan, string outDir, bool allowNonUniform = false,
                              string? copyAuxFrom = null, long maxShardBytes = 5_000_000_000,
                              IReadOnlyDictionary<string, JsonNode>? extraFiles = null)
    {
        var resolved = ResolvedExpertPlan.Resolve(model.Config, plan, allowNonUniform);
        var json = resolved.Config.ToJson(model.Dtype == model.Config.Dtype ? null : model.Dtype);
        CheckpointWriter.Write(outDir, json, ExpertSurgeryTensors.Stream(model, resolved), maxShardBytes, copyAuxFrom,
                               disposeTensors: true, extraFiles: extraFiles);
    }

    /// <summary>A removal plan from kept-index lists, e.g. a selection's <c>Kept</c> per layer.</summary>
    public static ExpertPlan KeepPlan(IEnumerable<LayerSelection> selections) =>
        ExpertPlan.Keep(selections.ToDictionary(s => s.LayerIndex, s => (IReadOnlyList<int>)s.Kept));
}
