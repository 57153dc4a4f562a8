using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// Boolean attention masks (true = attend) for scaled_dot_product_attention: causal, padded keys excluded,
/// and for Mixtral's sliding window only keys with q − window &lt; kv ≤ q (transformers' sliding_window_overlay).
/// </summary>
public static class AttentionMasks
{
    /// <summary>
    /// (B, 1, T, T) bool, or null when plain causal attention suffices (no padding, no window): SDPA's
    /// is_causal path is then used.
    /// </summary>
    /// <param name="keyValid">(B, T) bool, true at real tokens; null when nothing is padded.</param>
    public static Tensor? Build(long batch, long seqLen, Tensor? keyValid, int? slidingWindow, Device device)
    {
        bool windowActive = slidingWindow is int w && w < seqLen;
        if (keyValid is null && !windowActive) return null;
        using var scope = NewDisposeScope();
        var q = arange(seqLen, ScalarType.Int64, device).unsqueeze(1);                // (T, 1)
        var k = arange(seqLen, ScalarType.Int64, device).unsqueeze(0);                // (1, T)
        var allowed = k.le(q);                                                         // (T, T) causal
        if (windowActive) allowed = allowed.logical_and(k.gt(q - slidingWindow!.Value)); // (T, T)
        var mask = allowed.unsqueeze(0).unsqueeze(0).expand(batch, 1, seqLen, seqLen); // (B, 1, T, T)
        if (keyValid is not null)
        {
            mask = mask.logical_and(keyValid.unsqueeze(1).unsqueeze(1));              // (B, 1, T, T)
            // Every query keeps itself so that a padded row never has an empty softmax (NaN would leak
            // through V); real rows already attend to themselves.
            mask = mask.logical_or(q.eq(k));                                           // (B, 1, T, T)
        }
        return mask.contiguous().MoveToOuterDisposeScope();
    }
}
