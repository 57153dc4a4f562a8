using MoePrune.Models;

namespace MoePrune.Training;

/// <summary>
/// Training FLOPs per token of a decoder (forward + backward ≈ 3 × forward): 6 × the matmul parameters a
/// token touches (attention projections, the top-k experts, the router, lm_head; not the embedding lookup)
/// plus the attention scores and weighted sums, 3 × 4·T·H per layer for a causal sequence of length T
/// (computed over the full T×T square, as the model does).
/// </summary>
public static class TrainingFlops
{
    public static double PerToken(MoeConfig c, int sequenceLength)
    {
        long h = c.HiddenSize, kv = (long)c.NumKeyValueHeads * c.HeadDim, q = (long)c.NumAttentionHeads * c.HeadDim;
        long attention = h * q + 2 * h * kv + q * h;                                     // q, k, v, o projections
        long experts = (long)Math.Min(c.TopK, c.NumExperts) * 3 * h * c.ExpertIntermediateSize;
        long router = h * c.NumExperts;
        double matmulParams = c.NumHiddenLayers * (double)(attention + experts + router) + (double)h * c.VocabSize;
        double scores = c.NumHiddenLayers * 4.0 * sequenceLength * q;
        return 6 * matmulParams + 3 * scores;
    }
}
