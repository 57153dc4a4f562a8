using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>Summed next-token NLL (fp32 scalar, differentiable) and the number of predicted tokens.</summary>
public sealed record NllSum(Tensor Sum, long Count);

/// <summary>
/// Next-token cross-entropy as transformers computes it for causal LMs (logits upcast to fp32, targets
/// shifted by one), except that padded positions neither predict nor are predicted.
/// </summary>
public static class CausalLMLoss
{
    /// <param name="logits">(B, T, V) any float dtype.</param>
    /// <param name="inputIds">(B, T) int64.</param>
    /// <param name="attentionMask">(B, T), 1 at real tokens; null when nothing is padded.</param>
    public static NllSum Compute(Tensor logits, Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        long b = logits.shape[0], t = logits.shape[1], v = logits.shape[2];
        var predicted = logits.to(ScalarType.Float32).reshape(b * t, v);               // (B·T, V) fp32, a view
        var targets = ShiftedTargets(inputIds, attentionMask);                          // (B·T) int64
        var sum = nn.functional.cross_entropy(predicted, targets, ignore_index: -100, reduction: nn.Reduction.Sum); // () fp32
        long count = targets.ne(Scalars.Of(-100)).sum().item<long>();
        return new NllSum(sum.MoveToOuterDisposeScope(), count);
    }

    /// <summary>As <see cref="Compute"/> (no padding), plus the sum with each row's term weighted.</summary>
    /// <param name="rowWeights">(B, T) fp32 weight of each row's term (the row that predicts token t+1), or null.</param>
    /// <returns>The plain summed NLL, and with <paramref name="rowWeights"/> also the weighted sum.</returns>
    public static (NllSum Plain, Tensor? Weighted) ComputeWeighted(Tensor logits, Tensor inputIds, Tensor? rowWeights)
    {
        if (rowWeights is null) return (Compute(logits, inputIds), null);
        using var scope = NewDisposeScope();
        long b = logits.shape[0], t = logits.shape[1], v = logits.shape[2];
        var predicted = logits.to(ScalarType.Float32).reshape(b * t, v);               // (B·T, V) fp32, a view
        var targets = ShiftedTargets(inputIds, null);                                   // (B·T) next token or −100
        var perRow = nn.functional.cross_entropy(predicted, targets, ignore_index: -100, reduction: nn.Reduction.None); // (B·T), 0 at ignored
        var plain = perRow.sum();                                                        // () fp32
        var weighted = (perRow * rowWeights.reshape(-1)).sum();                          // () fp32
        long count = b * (t - 1);
        return (new NllSum(plain.MoveToOuterDisposeScope(), count), weighted.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// (B·T) int64: row (b, t) targets token t+1, or −100 where that token is padding or t is the last position.
    /// Every position is a row, instead of slicing logits[:, :-1]: the slice of a (B, T, V) tensor is not
    /// contiguous and reshaping it copied all the logits.
    /// </summary>
    static Tensor ShiftedTargets(Tensor inputIds, Tensor? attentionMask)
    {
        long b = inputIds.shape[0], t = inputIds.shape[1];
        var ignored = full(b, 1, Scalars.Of(-100L), ScalarType.Int64, inputIds.device);              // (B, 1)
        var targets = cat([inputIds.narrow(1, 1, t - 1), ignored], 1);                  // (B, T) next token or −100
        if (attentionMask is not null)
        {
            var valid = attentionMask.narrow(1, 1, t - 1).to(ScalarType.Bool);          // (B, T-1) target is real
            targets.narrow(1, 0, t - 1).masked_fill_(valid.logical_not(), Scalars.Of(-100));        // ignored targets
        }
        return targets.reshape(-1);                                                     // (B·T)
    }
}
