using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// DeepSeek-V3 / Kimi-K2 / GLM-4.5 routing (<c>noaux_tc</c>): sigmoid scores of the fp32 logits; selection on the scores
/// plus <c>e_score_correction_bias</c>; with groups, a group scores the sum of its two largest corrected scores and the
/// best <c>topk_group</c> groups stay candidates (others 0.0); top-k by corrected score; weights are the uncorrected
/// scores of the chosen experts, divided by their sum + 1e-20 when <c>norm_topk_prob</c>, then times
/// <c>routed_scaling_factor</c>. Masked experts are −∞ in the corrected scores, so they neither count in their group's
/// top-2 nor get chosen: the decision of the model without them.
/// </summary>
public sealed class SigmoidGroupRouting(int topK, GroupRouting groups, bool normTopKProb) : IRoutingStrategy
{
    public int TopK { get; } = topK;
    public GroupRouting Groups { get; } = groups;
    public bool NormTopKProb { get; } = normTopKProb;

    public RoutingDecision Route(Tensor routerLogits, Tensor? expertMask = null, Tensor? scoreCorrectionBias = null)
    {
        if (scoreCorrectionBias is null)
            throw new InvalidOperationException("noaux_tc routing needs the router's e_score_correction_bias");
        using var scope = NewDisposeScope();
        var scores = routerLogits.to(ScalarType.Float32).sigmoid();                     // (N, E) fp32
        // python: scores_for_choice = scores.view(-1, self.n_routed_experts) + self.e_score_correction_bias.unsqueeze(0)
        var corrected = GroupLimitedSelection.Masked(scores + scoreCorrectionBias.to(ScalarType.Float32), expertMask); // (N, E)
        var choice = corrected;
        if (Groups.IsGroupLimited)
        {
            long n = scores.shape[0], e = scores.shape[1];
            // python: group_scores = scores_for_choice.view(-1, n_group, E // n_group).topk(2, dim=-1)[0].sum(dim=-1)
            var groupScores = corrected.view(n, Groups.NGroup, e / Groups.NGroup).topk(2, -1).values.sum(-1); // (N, G)
            choice = GroupLimitedSelection.Choice(corrected, groupScores, Groups.TopKGroup, expertMask);       // (N, E)
        }
        var indices = choice.topk(TopK, -1).indexes;                                    // (N, k) by descending corrected score
        var weights = scores.gather(1, indices);                                        // (N, k) uncorrected
        using var tiny = 1e-20.ToScalar();                                              // explicit Scalars: see Native/Scalars.cs
        using var scaling = Groups.RoutedScalingFactor.ToScalar();
        if (NormTopKProb)
            weights = weights / (weights.sum(-1, keepdim: true) + tiny);                // (N, k)
        if (Groups.RoutedScalingFactor != 1.0) weights = weights * scaling;
        return new RoutingDecision(weights.MoveToOuterDisposeScope(), indices.MoveToOuterDisposeScope());
    }

    public Tensor Scores(Tensor routerLogits) => routerLogits.to(ScalarType.Float32).sigmoid();
}
