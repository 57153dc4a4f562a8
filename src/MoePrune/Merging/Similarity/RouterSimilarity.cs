using static TorchSharp.torch;

namespace MoePrune.Merging.Similarity;

/// <summary>
/// Router-based similarities. Row cosine: cos(w_i, w_j) of the router rows (E, H). Logit cosine (M-SMoE,
/// HC-SMoE's "router-logits"): with L = X Wᵀ the (N, E) router logits of the calibration tokens,
/// cos(L[:, i], L[:, j]) over the tokens (raw logits, not centred). Accumulated as the fp64 Gram LᵀL, so
/// logits observed during a calibration pass can be fed chunk by chunk (<see cref="Add"/>) in O(E²) memory.
/// </summary>
public sealed class RouterLogitAccumulator(int numExperts)
{
    private readonly double[] _gram = new double[numExperts * numExperts];

    public int NumExperts { get; } = numExperts;
    public long Rows { get; private set; }

    /// <summary>Adds router logits (m, E) of m tokens.</summary>
    public void Add(Tensor logits)
    {
        if (logits.dim() != 2 || logits.shape[1] != NumExperts)
            throw new ArgumentException($"router logits must be (m, {NumExperts})", nameof(logits));
        using var scope = NewDisposeScope();
        var l = logits.to(ScalarType.Float64);                                                // (m, E)
        var gram = l.t().matmul(l).contiguous().data<double>().ToArray();                     // (E·E)
        for (int i = 0; i < _gram.Length; i++) _gram[i] += gram[i];
        Rows += logits.shape[0];
    }

    public SimilarityMatrix Result()
    {
        if (Rows == 0) throw new MoePruneException("router-logits: no tokens were seen");
        return new SimilarityMatrix(SimilarityKinds.Name(SimilarityKind.RouterLogits), NumExperts, CosineMatrix.FromGram(_gram, NumExperts));
    }
}

public static class RouterSimilarity
{
    /// <summary>Cosine between the rows of the router (E, H).</summary>
    public static SimilarityMatrix RowCosine(Tensor router)
    {
        using var scope = NewDisposeScope();
        var w = router.to(ScalarType.Float64);                                                // (E, H)
        int n = (int)w.shape[0];
        var gram = w.matmul(w.t()).contiguous().data<double>().ToArray();                     // (E·E)
        return new SimilarityMatrix(SimilarityKinds.Name(SimilarityKind.Router), n, CosineMatrix.FromGram(gram, n));
    }

    /// <summary>Logit cosine from the layer inputs (N, H) and router (E, H), in chunks of <paramref name="chunkRows"/> tokens.</summary>
    public static SimilarityMatrix LogitCosine(Tensor inputs, Tensor router, int chunkRows = CkaOptions.DefaultChunkRows)
    {
        var acc = new RouterLogitAccumulator((int)router.shape[0]);
        foreach (var (start, rows) in TokenChunks.Balanced((int)inputs.shape[0], chunkRows))
        {
            using var scope = NewDisposeScope();
            var x = inputs.narrow(0, start, rows).to(router.dtype);                          // (m, H)
            acc.Add(nn.functional.linear(x, router));                                         // (m, E)
        }
        return acc.Result();
    }
}
