using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Observation;
using MoePrune.Pruning;
using MoePrune.Pruning.Selectors;
using MoePrune.Tests.Models;
using static TorchSharp.torch;

namespace MoePrune.Tests.Families;

/// <summary>
/// The DeepSeek-V2 / V3 / Kimi-K2 / GLM-4.5 reference checkpoints of fixtures/models (written by
/// make_reference_deepseek.py from deepseek_reference.py, an eager PyTorch transcription of the transformers modeling
/// files, DeepSeek's code where they disagree). Each expected.safetensors holds input_ids, logits, mean_nll and per MoE
/// layer router_logits.i, router_scores.i, topk.i (by descending selection score), topk_weights.i; the pruned cases also
/// pruned.keep.i, pruned.topk.i, pruned.logits, pruned.mean_nll for a group-balanced prune.
/// </summary>
static class DeepseekFixtures
{
    public static readonly string[] Cases =
    [
        "deepseek_v2_lite_yarn_fp32", "deepseek_v2_group_limited_bias_bf16", "deepseek_v3_yarn_groups_fp32",
        "deepseek_v3_noqlora_bias_bf16", "deepseek_v3_mtp_fp32", "deepseek_v3_fp8_mtp", "kimi_k2_bf16",
        "glm4_moe_qknorm_groups_fp32", "glm4_moe_air_rope_parameters_bf16",
    ];

    /// <summary>The cases with a group-balanced prune in their expected outputs.</summary>
    public static readonly string[] PrunedCases =
    [
        "deepseek_v2_group_limited_bias_bf16", "deepseek_v3_yarn_groups_fp32", "deepseek_v3_mtp_fp32", "deepseek_v3_fp8_mtp",
        "glm4_moe_qknorm_groups_fp32",
    ];

    public static string Dir(string name) => ModelFixtures.Dir(name);

    public static Dictionary<string, Tensor> Expected(string name) => ModelFixtures.Expected(name);

    /// <summary>
    /// The fixture's prune as a plan: its kept originals per MoE layer (pruned.keep.i) and, where the checkpoint has MTP
    /// layers, the same count kept there by the weight-only rule.
    /// </summary>
    public static ExpertPlan PrunedPlan(ITensorSource source, Dictionary<string, Tensor> expected)
    {
        var keep = PrunedKeep(expected);
        if (source.Config.NumMtpLayers > 0)
            foreach (var (layer, selection) in MtpExpertSelection.ByWeightNorm(source, keep.Values.First().Count))
                keep[layer] = selection.Kept;
        return ExpertPlan.Keep(keep);
    }

    /// <summary>The kept originals per MoE layer of the fixture's prune (pruned.keep.i).</summary>
    public static Dictionary<int, IReadOnlyList<int>> PrunedKeep(Dictionary<string, Tensor> expected) =>
        expected.Where(kv => kv.Key.StartsWith("pruned.keep.", StringComparison.Ordinal))
            .ToDictionary(kv => int.Parse(kv.Key["pruned.keep.".Length..]),
                          kv => (IReadOnlyList<int>)kv.Value.data<long>().Select(e => (int)e).ToArray());
}

/// <summary>Records every MoE layer's routing decision of one forward (copies, owned by the recorder).</summary>
sealed class RoutingRecorder : IMoeObserver, IDisposable
{
    public Dictionary<int, (Tensor Indices, Tensor Weights)> Layers { get; } = [];

    public ObserverNeeds Needs => ObserverNeeds.Routing;

    public void OnRouting(RoutingEvent e) =>
        Layers[e.LayerIndex] = (e.TopKIndices.detach().clone().DetachFromDisposeScope(), e.TopKWeights.detach().clone().DetachFromDisposeScope());

    public void Dispose()
    {
        foreach (var (i, w) in Layers.Values) { i.Dispose(); w.Dispose(); }
        Layers.Clear();
    }
}
