using static TorchSharp.torch;

namespace MoePrune.Merging.Similarity;

/// <summary>
/// HC-SMoE's expert representation: each expert's output averaged over the calibration tokens (router
/// bypassed), compared by cosine. Keeps E × H fp64 sums.
/// </summary>
public sealed class OutputMeanAccumulator(int numExperts) : IExpertOutputAccumulator
{
    private double[]? _sums;                  // E·H
    private int _hidden;

    public int NumExperts { get; } = numExperts;
    public long Rows { get; private set; }

    public void BeginChunk(int rows) => Rows += rows;

    public void Add(int expert, Tensor outputs)
    {
        using var scope = NewDisposeScope();
        var sum = outputs.to(ScalarType.Float64).sum(0L).contiguous().data<double>().ToArray(); // (H)
        if (_sums is null) { _hidden = sum.Length; _sums = new double[NumExperts * _hidden]; }
        for (int k = 0; k < _hidden; k++) _sums[expert * _hidden + k] += sum[k];
    }

    public void EndChunk() { }

    /// <summary>The mean outputs (E, H) row-major.</summary>
    public double[] Means() => (_sums ?? []).Select(v => v / Math.Max(1, Rows)).ToArray();

    public SimilarityMatrix Result()
    {
        if (_sums is null) throw new MoePruneException("output-mean: no tokens were seen");
        return new SimilarityMatrix(SimilarityKinds.Name(SimilarityKind.OutputMean), NumExperts,
            CosineMatrix.OfRows(Means(), NumExperts, _hidden));
    }
}
