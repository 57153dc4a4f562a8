namespace MoePrune.Tests.Merging;

/// <summary>
/// Textbook CKA in fp64 with explicit loops, independent of the library: kernels, the centering matrix
/// H = I − 11ᵀ/m for the biased HSIC, and the U-statistic over ordered 4-tuples of distinct tokens
/// (Song et al. 2012) for the unbiased one.
/// </summary>
internal static class CkaReference
{
    public static double[,] LinearKernel(double[][] z)
    {
        int m = z.Length;
        var k = new double[m, m];
        for (int a = 0; a < m; a++)
            for (int b = 0; b < m; b++)
                k[a, b] = z[a].Zip(z[b], (x, y) => x * y).Sum();
        return k;
    }

    public static double[,] RbfKernel(double[][] z)
    {
        int m = z.Length;
        var d2 = new double[m, m];
        var pairs = new List<double>();
        for (int a = 0; a < m; a++)
            for (int b = 0; b < m; b++)
            {
                d2[a, b] = z[a].Zip(z[b], (x, y) => (x - y) * (x - y)).Sum();
                if (a < b) pairs.Add(d2[a, b]);
            }
        pairs.Sort();
        double sigma2 = pairs[(pairs.Count - 1) / 2];                 // lower median
        var k = new double[m, m];
        for (int a = 0; a < m; a++)
            for (int b = 0; b < m; b++)
                k[a, b] = Math.Exp(-d2[a, b] / (2 * sigma2));
        return k;
    }

    public static double HsicBiased(double[,] k, double[,] l)
    {
        int m = k.GetLength(0);
        var h = new double[m, m];
        for (int a = 0; a < m; a++)
            for (int b = 0; b < m; b++) h[a, b] = (a == b ? 1 : 0) - 1.0 / m;
        var kh = Mul(k, h);
        var lh = Mul(l, h);
        double trace = 0;
        for (int a = 0; a < m; a++)
            for (int b = 0; b < m; b++) trace += kh[a, b] * lh[b, a];
        return trace / ((m - 1.0) * (m - 1.0));
    }

    public static double HsicUnbiased(double[,] k, double[,] l)
    {
        int m = k.GetLength(0);
        double sum = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                for (int q = 0; q < m; q++)
                    for (int r = 0; r < m; r++)
                    {
                        if (i == j || i == q || i == r || j == q || j == r || q == r) continue;
                        sum += k[i, j] * l[i, j] + k[i, j] * l[q, r] - 2 * k[i, j] * l[i, q];
                    }
        return sum / (m * (m - 1.0) * (m - 2.0) * (m - 3.0));
    }

    /// <summary>CKA matrix of <paramref name="outputs"/>[e][token][h] over the given token chunks.</summary>
    public static double[,] Cka(double[][][] outputs, (int Start, int Rows)[] chunks, bool rbf, bool unbiased)
    {
        int e = outputs.Length;
        var hsic = new double[e, e];
        foreach (var (start, rows) in chunks)
        {
            var kernels = outputs.Select(o => o.Skip(start).Take(rows).ToArray()).Select(z => rbf ? RbfKernel(z) : LinearKernel(z)).ToArray();
            for (int i = 0; i < e; i++)
                for (int j = 0; j < e; j++)
                    hsic[i, j] += unbiased ? HsicUnbiased(kernels[i], kernels[j]) : HsicBiased(kernels[i], kernels[j]);
        }
        var cka = new double[e, e];
        for (int i = 0; i < e; i++)
            for (int j = 0; j < e; j++)
                cka[i, j] = hsic[i, j] / Math.Sqrt(hsic[i, i] * hsic[j, j]);
        return cka;
    }

    private static double[,] Mul(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), p = b.GetLength(1), inner = a.GetLength(1);
        var c = new double[n, p];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < p; j++)
                for (int t = 0; t < inner; t++) c[i, j] += a[i, t] * b[t, j];
        return c;
    }
}
