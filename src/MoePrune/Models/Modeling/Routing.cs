using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>A router's decision for N tokens: weights (N, k) fp32 as applied, experts (N, k) int64.</summary>
public sealed record RoutingDecision(Tensor Weights, Tensor Indices);

/// <summary>
/// Turns router logits into a top-k choice; the <see cref="Router"/> module holds the parameters and calls it.
/// Mixtral, Qwen and OLMoE share <see cref="SoftmaxTopKRouting"/>; DeepSeek-V2 uses <see cref="SoftmaxGroupRouting"/>,
/// DeepSeek-V3 / Kimi-K2 / GLM-4.5 <see cref="SigmoidGroupRouting"/> (sigmoid scores, selection on
/// scores + e_score_correction_bias, group-limited top-k, routed_scaling_factor).
/// </summary>
public interface IRoutingStrategy
{
    /// <param name="routerLogits">(N, E) in the model dtype.</param>
    /// <param name="expertMask">Optional (E) bool: experts that may be chosen (others get −inf logits).</param>
    /// <param name="scoreCorrectionBias">The router's optional (E) selection bias; null when the family has none.</param>
    RoutingDecision Route(Tensor routerLogits, Tensor? expertMask = null, Tensor? scoreCorrectionBias = null);

    /// <summary>
    /// The per-expert router scores (N, E) fp32 the routing weights come from: the softmax (default) or, for sigmoid
    /// routing, the independent sigmoid scores (not a distribution: callers must not renormalise them silently).
    /// </summary>
    Tensor Scores(Tensor routerLogits) => routerLogits.to(ScalarType.Float32).softmax(-1);
}

/// <summary>
/// transformers' Mixtral/Qwen/OLMoE router: softmax over all experts in fp32, top-k, renormalise the k
/// weights when <c>norm_topk_prob</c> (Mixtral always). Weights stay fp32; the block casts them.
/// </summary>
public sealed class SoftmaxTopKRouting(int topK, bool renormalize) : IRoutingStrategy
{
    public int TopK { get; } = topK;
    public bool Renormalize { get; } = renormalize;

    public RoutingDecision Route(Tensor routerLogits, Tensor? expertMask = null, Tensor? scoreCorrectionBias = null)
    {
        if (scoreCorrectionBias is not null)
            throw new InvalidOperationException("softmax top-k routing has no score-correction bias; the family needs its own routing strategy");
        using var scope = NewDisposeScope();
        var logits = routerLogits.to(ScalarType.Float32);                           // (N, E) fp32
        if (expertMask is not null)
            logits = logits.masked_fill(expertMask.logical_not(), Scalars.Of(double.NegativeInfinity));
        // python: routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float)
        var probs = logits.softmax(-1);                                             // (N, E) fp32
        var (weights, indices) = probs.topk(TopK, -1);                              // (N, k), (N, k)
        if (Renormalize)
            weights = weights / weights.sum(-1, keepdim: true);                     // (N, k) fp32
        return new RoutingDecision(weights.MoveToOuterDisposeScope(), indices.MoveToOuterDisposeScope());
    }
}
