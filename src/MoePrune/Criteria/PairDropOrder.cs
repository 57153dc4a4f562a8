namespace MoePrune.Criteria;

/// <summary>
/// Turns a pair matrix (ECC co-selection counts, ETS shared vocabulary) into a drop order: repeatedly
/// pick the pair of remaining experts with the largest (direction Max) or smallest (Min) entry, the
/// first such pair in (p, q) order on ties; drop its less-used member (lower EUF count; equal counts drop
/// the higher index); delete its row and column. An expert's value is its drop rank (0 = dropped first,
/// E−1 = the last survivor).
/// </summary>
public static class PairDropOrder
{
    public static double[] Ranks(double[] matrix, long[] usage, DropDirection direction)
    {
        int n = usage.Length;
        if (matrix.Length != n * n)
            throw new ArgumentException($"pair matrix has {matrix.Length} entries, expected {n}×{n}");
        var alive = new SortedSet<int>(Enumerable.Range(0, n));
        var rank = new double[n];
        for (int step = 0; step < n - 1; step++)
        {
            var (p, q) = BestPair(matrix, n, alive, direction);
            int drop = usage[p] < usage[q] ? p
                : usage[q] < usage[p] ? q
                : Math.Max(p, q);
            rank[drop] = step;
            alive.Remove(drop);
        }
        rank[alive.Single()] = n - 1;
        return rank;
    }

    private static (int P, int Q) BestPair(double[] m, int n, SortedSet<int> alive, DropDirection direction)
    {
        var list = alive.ToArray();
        (int, int) best = (list[0], list[1]);
        double bestValue = m[list[0] * n + list[1]];
        for (int i = 0; i < list.Length; i++)
        {
            for (int j = i + 1; j < list.Length; j++)
            {
                double v = m[list[i] * n + list[j]];
                bool better = direction == DropDirection.Max ? v > bestValue : v < bestValue;
                if (better) { bestValue = v; best = (list[i], list[j]); }
            }
        }
        return best;
    }
}
