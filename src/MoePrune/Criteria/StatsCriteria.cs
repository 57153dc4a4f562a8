using MoePrune.Criteria.Statistics;

namespace MoePrune.Criteria;

/// <summary>
/// The inference-guided and activation-guided criteria and REAP, computed exactly from one layer's sums
/// (<see cref="RoutingCounts"/>, <see cref="TokenSets"/>, <see cref="ActivationSums"/>). Experts with no routed
/// token get 0 for every sum-based value (EUF, EVTC, EAN, EAO, EAS, REAP) and H·log(σ_floor) for EAE.
/// </summary>
public static class StatsCriteria
{
    /// <summary>Standard deviations below this count as this (log(0) would be −∞): EAE, EGE.</summary>
    public const double StdFloor = 1e-20;

    public static double[] Score(CriterionKind kind, LayerStats s, DropDirection direction)
    {
        int n = s.NumExperts;
        var r = s.Routing;
        string name = CriterionInfo.Name(kind);
        return kind switch
        {
            CriterionKind.Euf or CriterionKind.Frequency => Each(n, e => r.Tokens == 0 ? 0.0 : (double)r.Count[e] / r.Tokens),
            CriterionKind.Evtc => Each(n, e => (double)Sets(s, name).VocabularyCount(e) / Sets(s, name).VocabSize),
            CriterionKind.Ecc => PairDropOrder.Ranks(Each(n * n, i => i / n == i % n ? 0.0 : r.CoSelect[i]), r.Count, direction),
            CriterionKind.Ets => PairDropOrder.Ranks(SharedVocabulary(Sets(s, name), n), r.Count, direction),
            CriterionKind.Ean => Each(n, e => Sums(s, name).SumNorm[e]),
            CriterionKind.Eao => Each(n, e => Sums(s, name).Outliers[e]),
            CriterionKind.Eae => Each(n, e => ActivationEntropy(Sums(s, name), r.Count, e)),
            CriterionKind.Eas => ActivationSimilarity(Sums(s, name), r.Count),
            CriterionKind.Reap => Each(n, e => r.Count[e] == 0 ? 0.0 : Sums(s, name).SumGateNorm[e] / r.Count[e]),
            _ => throw new ArgumentException($"{kind} is not computed from routing/activation statistics"),
        };
    }

    /// <summary>EAE: Σ_j log max(σ_j, floor), σ_j the population std over routed tokens of hidden dim j.</summary>
    private static double ActivationEntropy(ActivationSums s, long[] count, int e)
    {
        int h = s.HiddenSize;
        long n = count[e];
        double total = 0;
        for (int j = 0; j < h; j++)
        {
            double std = 0;
            if (n > 0)
            {
                double mean = s.SumY[e * h + j] / n;
                std = Math.Sqrt(Math.Max(s.SumY2[e * h + j] / n - mean * mean, 0));
            }
            total += Math.Log(Math.Max(std, StdFloor));
        }
        return total;
    }

    /// <summary>
    /// EAS: S[p,q] = mean over a ∈ A_p, b ∈ A_q of cos(a, b) = (Σŷ_p · Σŷ_q) / (n_p n_q); score_p = Σ_{q≠p} S[p,q].
    /// </summary>
    private static double[] ActivationSimilarity(ActivationSums s, long[] count)
    {
        int n = s.NumExperts, h = s.HiddenSize;
        var score = new double[n];
        for (int p = 0; p < n; p++)
        {
            for (int q = 0; q < n; q++)
            {
                if (p == q || count[p] == 0 || count[q] == 0) continue;
                double dot = 0;
                for (int j = 0; j < h; j++) dot += s.SumUnit[p * h + j] * s.SumUnit[q * h + j];
                score[p] += dot / ((double)count[p] * count[q]);
            }
        }
        return score;
    }

    private static double[] SharedVocabulary(TokenSets s, int n)
    {
        var m = new double[n * n];
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++)
                m[p * n + q] = m[q * n + p] = s.SharedVocabulary(p, q);
        return m;
    }

    private static TokenSets Sets(LayerStats s, string criterion) => s.Require<TokenSets>(TokenSets.Kind, criterion);

    private static ActivationSums Sums(LayerStats s, string criterion) => s.Require<ActivationSums>(ActivationSums.Kind, criterion);

    private static double[] Each(int n, Func<int, double> f) => Enumerable.Range(0, n).Select(f).ToArray();
}
