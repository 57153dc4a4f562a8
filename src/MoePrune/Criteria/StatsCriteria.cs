namespace MoePrune.Criteria;

/// <summary>
/// The inference-guided and activation-guided criteria and REAP, computed exactly from one layer's
/// <see cref="LayerStats"/> sums. Experts with no routed token get 0 for every sum-based value (EUF,
/// EVTC, EAN, EAO, EAS, REAP) and H·log(σ_floor) for EAE.
/// </summary>
public static class StatsCriteria
{
    /// <summary>Standard deviations below this count as this (log(0) would be −∞): EAE, EGE.</summary>
    public const double StdFloor = 1e-20;

    public static double[] Score(CriterionKind kind, LayerStats s, DropDirection direction)
    {
        int n = s.NumExperts;
        return kind switch
        {
            CriterionKind.Euf or CriterionKind.Frequency => Each(n, e => s.Tokens == 0 ? 0.0 : (double)s.Count[e] / s.Tokens),
            CriterionKind.Evtc => Each(n, e => (double)RequireTokenSets(s, kind).VocabularyCount(e) / s.VocabSize),
            CriterionKind.Ecc => PairDropOrder.Ranks(Each(n * n, i => i / n == i % n ? 0.0 : s.CoSelect[i]), s.Count, direction),
            CriterionKind.Ets => PairDropOrder.Ranks(SharedVocabulary(RequireTokenSets(s, kind)), s.Count, direction),
            CriterionKind.Ean => Each(n, e => RequireActivations(s, kind).SumNorm![e]),
            CriterionKind.Eao => Each(n, e => RequireActivations(s, kind).Outliers![e]),
            CriterionKind.Eae => Each(n, e => ActivationEntropy(RequireActivations(s, kind), e)),
            CriterionKind.Eas => ActivationSimilarity(RequireActivations(s, kind)),
            CriterionKind.Reap => Each(n, e => s.Count[e] == 0 ? 0.0 : RequireActivations(s, kind).SumGateNorm![e] / s.Count[e]),
            _ => throw new ArgumentException($"{kind} is not computed from routing/activation statistics"),
        };
    }

    /// <summary>EAE: Σ_j log max(σ_j, floor), σ_j the population std over routed tokens of hidden dim j.</summary>
    private static double ActivationEntropy(LayerStats s, int e)
    {
        int h = s.HiddenSize;
        long n = s.Count[e];
        double total = 0;
        for (int j = 0; j < h; j++)
        {
            double std = 0;
            if (n > 0)
            {
                double mean = s.SumY![e * h + j] / n;
                std = Math.Sqrt(Math.Max(s.SumY2![e * h + j] / n - mean * mean, 0));
            }
            total += Math.Log(Math.Max(std, StdFloor));
        }
        return total;
    }

    /// <summary>
    /// EAS: S[p,q] = mean over a ∈ A_p, b ∈ A_q of cos(a, b) = (Σŷ_p · Σŷ_q) / (n_p n_q); score_p = Σ_{q≠p} S[p,q].
    /// </summary>
    private static double[] ActivationSimilarity(LayerStats s)
    {
        int n = s.NumExperts, h = s.HiddenSize;
        var score = new double[n];
        for (int p = 0; p < n; p++)
        {
            for (int q = 0; q < n; q++)
            {
                if (p == q || s.Count[p] == 0 || s.Count[q] == 0) continue;
                double dot = 0;
                for (int j = 0; j < h; j++) dot += s.SumUnit![p * h + j] * s.SumUnit![q * h + j];
                score[p] += dot / ((double)s.Count[p] * s.Count[q]);
            }
        }
        return score;
    }

    private static double[] SharedVocabulary(LayerStats s)
    {
        int n = s.NumExperts;
        var m = new double[n * n];
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++)
                m[p * n + q] = m[q * n + p] = s.SharedVocabulary(p, q);
        return m;
    }

    private static LayerStats RequireTokenSets(LayerStats s, CriterionKind kind) => s.HasTokenSets ? s
        : throw new MoePruneException($"criterion {CriterionInfo.Name(kind)}: layer {s.LayerIndex} statistics have no token sets; collect with this criterion requested");

    private static LayerStats RequireActivations(LayerStats s, CriterionKind kind) => s.HasActivations ? s
        : throw new MoePruneException($"criterion {CriterionInfo.Name(kind)}: layer {s.LayerIndex} statistics have no activation sums; collect with this criterion requested");

    private static double[] Each(int n, Func<int, double> f) => Enumerable.Range(0, n).Select(f).ToArray();
}
