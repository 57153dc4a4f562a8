using static TorchSharp.torch;

namespace MoePrune.Merging.Similarity;

/// <summary>
/// Squared Euclidean distances between E long vectors given in slices: each <see cref="Add"/> takes the
/// same coordinate range of all E vectors, (E, d). Keeps the fp64 Gram matrix; the distance is
/// G_ii + G_jj − 2 G_ij (clamped at 0), so memory is O(E² + E·d) for the largest slice.
/// </summary>
public sealed class PairwiseDistance(int count)
{
    private readonly double[] _gram = new double[count * count];

    public int Count { get; } = count;
    /// <summary>Coordinates seen so far (per vector).</summary>
    public long Length { get; private set; }

    public void Add(Tensor slices)
    {
        using var scope = NewDisposeScope();
        var s = slices.to(ScalarType.Float64).reshape(Count, -1);                              // (E, d)
        var gram = s.matmul(s.t()).contiguous().data<double>().ToArray();                     // (E·E)
        for (int i = 0; i < _gram.Length; i++) _gram[i] += gram[i];
        Length += s.shape[1];
    }

    /// <summary>−‖v_i − v_j‖² / Length (minus the mean squared error), row-major.</summary>
    public double[] NegativeMeanSquaredError()
    {
        var mse = new double[Count * Count];
        for (int i = 0; i < Count; i++)
            for (int j = 0; j < Count; j++)
            {
                double d = i == j ? 0 : Math.Max(0, _gram[i * Count + i] + _gram[j * Count + j] - 2 * _gram[i * Count + j]);
                mse[i * Count + j] = d == 0 ? 0 : -d / Math.Max(1, Length);
            }
        return mse;
    }
}
