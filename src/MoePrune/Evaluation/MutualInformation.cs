namespace MoePrune.Evaluation;

/// <summary>Mutual information (bits) of a joint count table, and the expectation under shuffled labels.</summary>
public static class MutualInformation
{
    /// <summary>I(X; Y) = Σ p(x,y) log2(p(x,y) / (p(x) p(y))) of the counts [x, y].</summary>
    public static double Bits(long[,] counts)
    {
        int nx = counts.GetLength(0), ny = counts.GetLength(1);
        double total = 0;
        var px = new double[nx];
        var py = new double[ny];
        for (int x = 0; x < nx; x++)
            for (int y = 0; y < ny; y++) { px[x] += counts[x, y]; py[y] += counts[x, y]; total += counts[x, y]; }
        double mi = 0;
        for (int x = 0; x < nx; x++)
            for (int y = 0; y < ny; y++)
                if (counts[x, y] > 0)
                    mi += counts[x, y] / total * Math.Log2(counts[x, y] * total / (px[x] * py[y]));
        return mi;
    }

    /// <summary>
    /// The same statistic after shuffling the pairing (routing independent of the label, same marginals):
    /// the individual assignments are re-paired by a seeded permutation, averaged over <paramref name="rounds"/>.
    /// </summary>
    public static double ShuffledBits(long[,] counts, int rounds = 5, int seed = 0)
    {
        int nx = counts.GetLength(0), ny = counts.GetLength(1);
        var xs = new List<int>();
        var ys = new List<int>();
        for (int x = 0; x < nx; x++)
            for (int y = 0; y < ny; y++)
                for (long k = 0; k < counts[x, y]; k++) { xs.Add(x); ys.Add(y); }
        var rng = new Random(seed);
        double sum = 0;
        var yArray = ys.ToArray();
        for (int r = 0; r < rounds; r++)
        {
            rng.Shuffle(yArray);
            var shuffled = new long[nx, ny];
            for (int i = 0; i < xs.Count; i++) shuffled[xs[i], yArray[i]]++;
            sum += Bits(shuffled);
        }
        return sum / rounds;
    }
}
