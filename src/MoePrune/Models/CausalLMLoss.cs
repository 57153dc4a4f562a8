using static TorchSharp.torch;

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
        var predicted = logits.narrow(1, 0, t - 1).to(ScalarType.Float32).reshape(-1, v); // (B·(T-1), V) fp32
        var targets = inputIds.narrow(1, 1, t - 1).reshape(-1);                         // (B·(T-1)) int64
        if (attentionMask is not null)
        {
            var valid = attentionMask.narrow(1, 1, t - 1).reshape(-1).to(ScalarType.Bool); // (B·(T-1)) target is real
            targets = targets.masked_fill(valid.logical_not(), -100);                    // ignored targets
        }
        var sum = nn.functional.cross_entropy(predicted, targets, ignore_index: -100, reduction: nn.Reduction.Sum); // () fp32
        long count = targets.ne(-100).sum().item<long>();
        return new NllSum(sum.MoveToOuterDisposeScope(), count);
    }
}
