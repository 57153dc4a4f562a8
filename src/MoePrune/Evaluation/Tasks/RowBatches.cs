namespace MoePrune.Evaluation.Tasks;

/// <summary>
/// Groups rows, already sorted longest first, into forwards: each takes at least <c>batchSize</c> rows, and more
/// while the padded batch (rows × its longest row) stays within <c>batchTokens</c>, so that short rows (a cloze
/// choice, a lettered prompt) do not pay a whole forward's fixed cost per handful of tokens. 0 tokens: rows only.
/// </summary>
public static class RowBatches
{
    public static IEnumerable<int[]> Split(IReadOnlyList<int> sortedRows, Func<int, int> length, int batchSize, int batchTokens)
    {
        for (int start = 0; start < sortedRows.Count;)
        {
            int longest = Math.Max(1, length(sortedRows[start]));
            int take = Math.Max(batchSize, batchTokens / longest);
            take = Math.Min(take, sortedRows.Count - start);
            yield return sortedRows.Skip(start).Take(take).ToArray();
            start += take;
        }
    }
}
