namespace MoePrune.Merging.Similarity;

/// <summary>Pairwise cosines of vectors, and cosines from a Gram matrix. A zero vector has cosine 0 with every other and 1 with itself.</summary>
public static class CosineMatrix
{
    /// <summary>Cosines between the <paramref name="count"/> rows of a row-major (count, dim) array.</summary>
    public static double[] OfRows(double[] rows, int count, int dim)
    {
        var gram = new double[count * count];
        for (int i = 0; i < count; i++)
            for (int j = i; j < count; j++)
            {
                double dot = 0;
                for (int k = 0; k < dim; k++) dot += rows[i * dim + k] * rows[j * dim + k];
                gram[i * count + j] = gram[j * count + i] = dot;
            }
        return FromGram(gram, count);
    }

    /// <summary>G_ij / √(G_ii G_jj) for a row-major Gram matrix.</summary>
    public static double[] FromGram(double[] gram, int count)
    {
        var cos = new double[count * count];
        for (int i = 0; i < count; i++)
            for (int j = 0; j < count; j++)
            {
                double a = gram[i * count + i], b = gram[j * count + j];
                cos[i * count + j] = i == j ? 1 : a > 0 && b > 0 ? gram[i * count + j] / Math.Sqrt(a * b) : 0;
            }
        return cos;
    }
}
