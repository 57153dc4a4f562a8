using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// DeepSeek-V2 routing (DeepSeek's <c>MoEGate</c>, <c>scoring_func: softmax</c>): softmax over all experts in fp32;
/// <c>greedy</c> takes the top-k of all experts, <c>group_limited_greedy</c> (<see cref="GroupScoring.Max"/>) first keeps
/// the <c>topk_group</c> groups with the largest maximum probability. The weights are the chosen probabilities times
/// <c>routed_scaling_factor</c>, never renormalised (transformers ignores <c>norm_topk_prob</c> for V2; a config that sets it
/// is refused). Masked experts get −∞ logits, so the softmax, the group maxima and the choice are those of the model
/// without them.
/// </summary>
public sealed class SoftmaxGroupRouting(int topK, GroupRouting groups) : IRoutingStrategy
{
    public int TopK { get; } = topK;
    public GroupRouting Groups { get; } = groups;

    public RoutingDecision Route(Tensor routerLogits, Tensor? expertMask = null, Tensor? scoreCorrectionBias = null)
    {
        if (scoreCorrectionBias is not null)
            throw new InvalidOperationException("DeepSeek-V2 routing has no score-correction bias");
        using var scope = NewDisposeScope();
        var logits = GroupLimitedSelection.Masked(routerLogits.to(ScalarType.Float32), expertMask); // (N, E) fp32
        // python: scores = logits.softmax(dim=-1, dtype=torch.float32)
        var scores = logits.softmax(-1);                                                 // (N, E)
        var choice = GroupLimitedSelection.Masked(scores, expertMask);                  // (N, E)
        if (Groups.IsGroupLimited)
        {
            long n = scores.shape[0], e = scores.shape[1];
            // python: group_scores = scores.view(bsz * seq_len, self.n_group, -1).max(dim=-1).values
            var groupScores = scores.view(n, Groups.NGroup, e / Groups.NGroup).amax([-1L]);     // (N, G)
            choice = GroupLimitedSelection.Choice(scores, groupScores, Groups.TopKGroup, expertMask); // (N, E)
        }
        var indices = choice.topk(TopK, -1).indexes;                                    // (N, k) by descending score
        var weights = scores.gather(1, indices);                                        // (N, k)
        using var scaling = Groups.RoutedScalingFactor.ToScalar();                      // explicit: see Native/Scalars.cs
        if (Groups.RoutedScalingFactor != 1.0) weights = weights * scaling;
        return new RoutingDecision(weights.MoveToOuterDisposeScope(), indices.MoveToOuterDisposeScope());
    }

    public Tensor Scores(Tensor routerLogits) => routerLogits.to(ScalarType.Float32).softmax(-1);
}
