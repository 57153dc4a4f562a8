using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Training;

/// <summary>
/// Per-row next-token terms of a batch, before any reduction: row (b, t) predicts token t+1. Rows whose target
/// is padding, and the last position, have no target; their terms are 0 and they are not <see cref="Valid"/>.
/// </summary>
public sealed record NextTokenRows(Tensor Nll, Tensor Valid)
{
    /// <param name="logits">(B, T, V) any float dtype.</param>
    /// <param name="inputIds">(B, T) int64.</param>
    /// <param name="attentionMask">(B, T), 1 at real tokens; null when nothing is padded.</param>
    /// <returns>NLL (B·T) fp32 and valid (B·T) bool, in the caller's dispose scope.</returns>
    public static NextTokenRows Compute(Tensor logits, Tensor inputIds, Tensor? attentionMask)
    {
        long b = logits.shape[0], t = logits.shape[1], v = logits.shape[2];
        var predicted = logits.to(ScalarType.Float32).reshape(b * t, v);               // (B·T, V) fp32
        var targets = Targets(inputIds, attentionMask);                                 // (B·T) next token or −100
        var nll = nn.functional.cross_entropy(predicted, targets, ignore_index: -100, reduction: nn.Reduction.None); // (B·T), 0 at ignored
        return new NextTokenRows(nll, targets.ne(Scalars.Of(-100)));
    }

    /// <summary>(B·T) int64: row (b, t) targets token t+1, or −100 where that token is padding or t is the last position.</summary>
    public static Tensor Targets(Tensor inputIds, Tensor? attentionMask)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1];
        var ignored = full(b, 1, Scalars.Of(-100L), ScalarType.Int64, inputIds.device);              // (B, 1)
        var targets = cat([inputIds.narrow(1, 1, t - 1), ignored], 1);                  // (B, T)
        if (attentionMask is not null)
        {
            var real = attentionMask.narrow(1, 1, t - 1).to(ScalarType.Bool);           // (B, T-1) target is real
            targets.narrow(1, 0, t - 1).masked_fill_(real.logical_not(), Scalars.Of(-100));
        }
        return targets.reshape(-1).MoveToOuterDisposeScope();                          // (B·T)
    }
}
