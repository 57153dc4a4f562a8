namespace MoePrune.Evaluation;

/// <summary>
/// The unigram baseline on the same tokenization: p(t) = (count(t) + 1) / (N + V) from the training token
/// stream (add-one smoothing), scored on the same predicted positions as <see cref="Perplexity"/> (every
/// token of a sequence except the first).
/// </summary>
public sealed class UnigramBaseline
{
    private readonly double[] _logProb;

    public UnigramBaseline(IReadOnlyList<int> trainTokens, int vocabSize)
    {
        var counts = new long[vocabSize];
        foreach (int t in trainTokens) counts[t]++;
        double total = trainTokens.Count + (double)vocabSize;
        _logProb = counts.Select(c => Math.Log((c + 1) / total)).ToArray();
    }

    public PerplexityResult Evaluate(IEnumerable<int[]> sequences)
    {
        double sum = 0;
        long count = 0;
        foreach (var s in sequences)
            for (int i = 1; i < s.Length; i++) { sum -= _logProb[s[i]]; count++; }
        return new PerplexityResult(count, sum / count);
    }
}
