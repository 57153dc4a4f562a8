using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>
/// Boolean attention masks (true = attend) for scaled_dot_product_attention over S = past + T key slots (past
/// slots from a KV cache): causal, padded keys excluded, and for Mixtral's sliding window only keys with
/// q − window &lt; kv ≤ q (transformers' sliding_window_overlay), where query i sits at slot past + i.
/// </summary>
public static class AttentionMasks
{
    /// <summary>
    /// (B, 1, T, S) bool, or null when plain causal attention over T = S suffices (no cache, no padding, no
    /// window): SDPA's is_causal path is then used. With a cache (past &gt; 0) the mask is always built.
    /// </summary>
    /// <param name="keyValid">(B, S) bool, true at real tokens; null when nothing is padded.</param>
    public static Tensor? Build(long batch, long queryLen, long pastLen, Tensor? keyValid, int? slidingWindow, Device device)
    {
        long keyLen = pastLen + queryLen;
        bool windowActive = slidingWindow is int w && w < keyLen;
        if (pastLen == 0 && keyValid is null && !windowActive) return null;
        using var scope = NewDisposeScope();
        var q = arange(Scalars.Of(pastLen), Scalars.Of(keyLen), ScalarType.Int64, device).unsqueeze(1);        // (T, 1) query slots
        var k = arange(Scalars.Of(keyLen), ScalarType.Int64, device).unsqueeze(0);                  // (1, S)
        var allowed = k.le(q);                                                          // (T, S) causal
        if (windowActive) allowed = allowed.logical_and(k.gt(q - Scalars.Of(slidingWindow!.Value))); // (T, S)
        var mask = allowed.unsqueeze(0).unsqueeze(0).expand(batch, 1, queryLen, keyLen); // (B, 1, T, S)
        if (keyValid is not null)
        {
            mask = mask.logical_and(keyValid.unsqueeze(1).unsqueeze(1));               // (B, 1, T, S)
            // Every query keeps itself so that a padded row never has an empty softmax (NaN would leak
            // through V); real rows already attend to themselves.
            mask = mask.logical_or(q.eq(k));                                            // (B, 1, T, S)
        }
        return mask.contiguous().MoveToOuterDisposeScope();
    }
}
