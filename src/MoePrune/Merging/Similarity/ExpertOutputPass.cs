using static TorchSharp.torch;

namespace MoePrune.Merging.Similarity;

/// <summary>
/// Runs EVERY expert of a layer on the same tokens, router bypassed, chunk by chunk, and hands the outputs
/// to accumulators. Peak memory is one chunk's expert intermediate (m, I) and output (m, H) plus what the
/// accumulators keep for the chunk; the E outputs are never held together.
/// </summary>
public static class ExpertOutputPass
{
    /// <param name="inputs">(N, H) the layer's calibration inputs (post-attention-normed hidden states).</param>
    /// <param name="numExperts">E</param>
    /// <param name="expertForward">(e, x (m, H)) → (m, H): expert e alone on x.</param>
    /// <param name="chunkRows">the most tokens per chunk (chunks are balanced, <see cref="TokenChunks"/>).</param>
    public static void Run(Tensor inputs, int numExperts, Func<int, Tensor, Tensor> expertForward,
        IReadOnlyList<IExpertOutputAccumulator> accumulators, int chunkRows)
    {
        if (inputs.dim() != 2) throw new ArgumentException("inputs must be (N, H)", nameof(inputs));
        foreach (var (start, rows) in TokenChunks.Balanced((int)inputs.shape[0], chunkRows))
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var chunk = inputs.narrow(0, start, rows);                                        // (m, H)
            foreach (var a in accumulators) a.BeginChunk(rows);
            for (int e = 0; e < numExperts; e++)
            {
                var outputs = expertForward(e, chunk);                                        // (m, H)
                foreach (var a in accumulators) a.Add(e, outputs);
            }
            foreach (var a in accumulators) a.EndChunk();
        }
    }

    /// <summary>The same with the SwiGLU experts of <paramref name="layer"/>.</summary>
    public static void Run(Tensor inputs, MoeLayerWeights layer, IReadOnlyList<IExpertOutputAccumulator> accumulators, int chunkRows) =>
        Run(inputs, layer.NumExperts, (e, x) => layer.Experts[e].Forward(x), accumulators, chunkRows);
}
