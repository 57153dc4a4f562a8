namespace MoePrune.Merging.Similarity;

/// <summary>Splits N rows into ⌈N / max⌉ consecutive chunks whose sizes differ by at most one.</summary>
public static class TokenChunks
{
    public static IReadOnlyList<(int Start, int Rows)> Balanced(int rows, int maxRows)
    {
        if (maxRows < 1) throw new ArgumentOutOfRangeException(nameof(maxRows), "chunk size must be at least 1");
        if (rows <= 0) return [];
        int count = (rows + maxRows - 1) / maxRows, small = rows / count, large = rows % count;
        var chunks = new List<(int, int)>(count);
        for (int c = 0, start = 0; c < count; c++)
        {
            int size = small + (c < large ? 1 : 0);
            chunks.Add((start, size));
            start += size;
        }
        return chunks;
    }
}
