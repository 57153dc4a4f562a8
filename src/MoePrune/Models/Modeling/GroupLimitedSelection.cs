using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// The group stage of DeepSeek-style routing, shared by <see cref="SoftmaxGroupRouting"/> and
/// <see cref="SigmoidGroupRouting"/>: experts form G equal groups of consecutive indices, the best <c>topk_group</c>
/// groups by group score stay candidates and the other experts' selection scores become 0.0 (transformers'
/// <c>masked_fill(~score_mask, 0.0)</c>). Experts outside an expert mask are −∞ afterwards, so they are never chosen
/// (virtual pruning: they are also absent from the group scores, which the callers compute from masked scores).
/// </summary>
internal static class GroupLimitedSelection
{
    /// <summary>Selection scores (N, E) with the experts of unchosen groups at 0.0 and masked experts at −∞.</summary>
    /// <param name="selection">(N, E) fp32 scores the top-k reads.</param>
    /// <param name="groupScores">(N, G) fp32.</param>
    /// <param name="expertMask">Optional (E) bool, true = may be chosen.</param>
    public static Tensor Choice(Tensor selection, Tensor groupScores, int topKGroup, Tensor? expertMask)
    {
        using var scope = NewDisposeScope();
        long n = selection.shape[0], e = selection.shape[1], g = groupScores.shape[1];
        var chosenGroups = groupScores.topk(topKGroup, -1).indexes;                     // (N, topk_group)
        var groupMask = zeros(n, g, ScalarType.Bool, selection.device)
            .scatter_(1, chosenGroups, ones_like(chosenGroups, ScalarType.Bool));        // (N, G) bool
        var candidate = groupMask.unsqueeze(-1).expand(n, g, e / g).reshape(n, e);       // (N, E) bool
        using var zero = 0.0.ToScalar();                                                 // explicit Scalars: see Native/Scalars.cs
        var choice = selection.masked_fill(candidate.logical_not(), zero);               // (N, E)
        return Masked(choice, expertMask).MoveToOuterDisposeScope();
    }

    /// <summary>(N, E) scores with experts outside <paramref name="expertMask"/> at −∞ (the input itself when there is no mask).</summary>
    public static Tensor Masked(Tensor scores, Tensor? expertMask)
    {
        if (expertMask is null) return scores.alias();
        using var minusInfinity = double.NegativeInfinity.ToScalar();
        return scores.masked_fill(expertMask.logical_not(), minusInfinity);
    }
}
