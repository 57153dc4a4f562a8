using static TorchSharp.torch;

namespace MoePrune.Merging;

/// <summary>
/// An E × E expert similarity of one layer, symmetric, larger = more alike (distances are stored negated:
/// −MSE). <see cref="Kind"/> names the measure (<see cref="SimilarityKinds"/>).
/// </summary>
public sealed class SimilarityMatrix
{
    private readonly double[] _values;   // row-major E·E

    public SimilarityMatrix(string kind, int size, double[] rowMajor)
    {
        if (rowMajor.Length != size * size)
            throw new ArgumentException($"{kind}: {rowMajor.Length} values for a {size} × {size} matrix");
        Kind = kind;
        Size = size;
        _values = rowMajor;
    }

    public string Kind { get; }
    public int Size { get; }
    public double this[int i, int j] => _values[i * Size + j];

    /// <summary>From an (E, E) tensor of any floating dtype.</summary>
    public static SimilarityMatrix FromTensor(string kind, Tensor matrix)
    {
        using var scope = NewDisposeScope();
        int n = (int)matrix.shape[0];
        var values = matrix.to(ScalarType.Float64).contiguous().data<double>().ToArray();  // (E·E)
        return new SimilarityMatrix(kind, n, values);
    }

    /// <summary>Rows as jagged arrays (for JSON).</summary>
    public double[][] ToRows() => Enumerable.Range(0, Size).Select(i => _values.AsSpan(i * Size, Size).ToArray()).ToArray();

    /// <summary>The mean of the E(E−1) off-diagonal entries (0 when E = 1).</summary>
    public double OffDiagonalMean()
    {
        if (Size < 2) return 0;
        double sum = 0;
        for (int i = 0; i < Size; i++)
            for (int j = 0; j < Size; j++)
                if (i != j) sum += this[i, j];
        return sum / (Size * (Size - 1.0));
    }
}
