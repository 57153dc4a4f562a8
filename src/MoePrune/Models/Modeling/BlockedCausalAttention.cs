using TorchSharp;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>
/// Causal attention computed the way transformers' eager attention does it (scores by matmul, causal mask,
/// softmax, probabilities times values), in blocks of query rows: block i multiplies only against keys 0 … end of
/// block i, so the masked upper triangle is skipped except inside the diagonal block. The query heads that share a
/// KV head are stacked into one matmul (grouped-query attention without copying K and V).
/// Used for bf16 inference: on an AVX-512 BF16 CPU libtorch's flash SDPA kernel is about 2× slower for the small
/// benchmark shape (docs/BENCHMARKS.md), while in fp32 it is as fast and under autograd it keeps O(T) memory, so
/// fp32 and training stay on SDPA. The softmax kernel reads bf16 scores and accumulates in fp32.
/// </summary>
public static class BlockedCausalAttention
{
    public const int DefaultBlockSize = 128;

    /// <summary>True for bf16 tensors that autograd does not track.</summary>
    public static bool Applies(Tensor query) => query.dtype == ScalarType.BFloat16 && !query.requires_grad;

    /// <summary>
    /// q (B, nh, T, hd), k (B, kv, T, hd) and v (B, kv, T, vd) with kv dividing nh → (B, nh, T, vd); scores scaled by
    /// <paramref name="scale"/> (default 1/√hd).
    /// </summary>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, int blockSize = DefaultBlockSize, double? scale = null)
    {
        using var scope = NewDisposeScope();
        long b = q.shape[0], nh = q.shape[1], t = q.shape[2], hd = q.shape[3], kv = k.shape[1], rep = nh / kv, vd = v.shape[3];
        var qs = (q * Scalars.Of(scale ?? 1.0 / Math.Sqrt(hd))).reshape(b, kv, rep, t, hd);    // (B, kv, rep, T, hd)
        var above = ones(blockSize, blockSize, ScalarType.Bool, q.device).triu(1);         // (n, n) true above the diagonal
        var blocks = new List<Tensor>();
        for (long i0 = 0; i0 < t; i0 += blockSize)
        {
            long n = Math.Min(blockSize, t - i0), keys = i0 + n;
            var qb = qs.narrow(3, i0, n).reshape(b, kv, rep * n, hd);                      // (B, kv, rep·n, hd)
            var scores = matmul(qb, k.narrow(2, 0, keys).transpose(-1, -2))               // (B, kv, rep·n, keys)
                         .view(b, kv, rep, n, keys);                                       // (B, kv, rep, n, keys)
            scores.narrow(-1, i0, n).masked_fill_(above.narrow(0, 0, n).narrow(1, 0, n), Scalars.Of(double.NegativeInfinity));
            var probs = scores.softmax(-1).view(b, kv, rep * n, keys);                     // (B, kv, rep·n, keys)
            blocks.Add(matmul(probs, v.narrow(2, 0, keys)).view(b, kv, rep, n, vd));       // (B, kv, rep, n, vd)
        }
        return cat(blocks, 3).view(b, nh, t, vd).MoveToOuterDisposeScope();                // (B, nh, T, vd)
    }
}
