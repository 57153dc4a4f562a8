namespace MoePrune.Criteria;

/// <summary>
/// Everything the data-driven criteria need from one MoE layer, as sums that merge by addition (bitsets
/// by OR), so that every score is exactly computable after any number of batches, and memory stays
/// O(E·H + E² + E·V/8) however many tokens are seen. Gradient sums (E × 3·I·H floats) and the NAEE
/// input sample (≤ cap × H floats) are the two deliberate exceptions; they exist only when asked for.
/// </summary>
public sealed class LayerStats
{
    public int LayerIndex { get; }
    public int NumExperts { get; }
    public int TopK { get; }

    /// <summary>Non-padded tokens routed through this layer.</summary>
    public long Tokens { get; set; }
    /// <summary>(E) tokens routed to each expert (EUF, REAP/EAN denominators, pair tie-breaks).</summary>
    public long[] Count { get; }
    /// <summary>(E·E) row-major: tokens whose top-k holds both p and q; the diagonal equals Count.</summary>
    public long[] CoSelect { get; }

    /// <summary>Vocabulary size of the bitsets; 0 when no token sets are kept.</summary>
    public int VocabSize { get; private set; }
    /// <summary>(E)[⌈V/64⌉] bit t of expert e set when token id t was routed to e at least once.</summary>
    public ulong[][]? TokenSets { get; private set; }

    /// <summary>Hidden size of the activation sums; 0 when none are kept.</summary>
    public int HiddenSize { get; private set; }
    /// <summary>(E·H) Σ y over routed tokens of expert outputs y = E_p(x), before gating.</summary>
    public double[]? SumY { get; private set; }
    /// <summary>(E·H) Σ y².</summary>
    public double[]? SumY2 { get; private set; }
    /// <summary>(E·H) Σ y/‖y‖ (rows with ‖y‖ = 0 add 0): cross-expert cosine sums factorise through it.</summary>
    public double[]? SumUnit { get; private set; }
    /// <summary>(E) Σ ‖y‖₂.</summary>
    public double[]? SumNorm { get; private set; }
    /// <summary>(E) Σ g̃·‖y‖₂ with g̃ the top-k gate renormalised over the token's top-k.</summary>
    public double[]? SumGateNorm { get; private set; }
    /// <summary>(E) entries of y outside its own token's μ ± 3σ (μ, σ over the hidden dimension).</summary>
    public long[]? Outliers { get; private set; }

    /// <summary>Per expert, Σ over AccumulateGradients calls of [∂gate | ∂up | ∂down] flattened, fp32.</summary>
    public float[][]? GradSum { get; private set; }
    public int GradIntermediateSize { get; private set; }
    public int GradHiddenSize { get; private set; }
    public long GradSteps { get; set; }

    /// <summary>Cap on stored NAEE input rows; 0 when no NAEE sample is kept.</summary>
    public int NaeeCap { get; private set; }
    /// <summary>(NaeeRows·H) the first NaeeCap MoE-block inputs seen, row-major fp32.</summary>
    public float[]? NaeeInputs { get; private set; }
    public int NaeeRows { get; set; }
    public int NaeeHidden { get; private set; }

    public LayerStats(int layerIndex, int numExperts, int topK)
    {
        if (numExperts < 1 || topK < 1 || topK > numExperts)
            throw new MoePruneException($"layer {layerIndex}: invalid expert count {numExperts} / top-k {topK}");
        LayerIndex = layerIndex;
        NumExperts = numExperts;
        TopK = topK;
        Count = new long[numExperts];
        CoSelect = new long[numExperts * numExperts];
    }

    public bool HasTokenSets => TokenSets is not null;
    public bool HasActivations => SumY is not null;
    public bool HasGradients => GradSum is not null;
    public bool HasNaee => NaeeInputs is not null;

    public void EnableTokenSets(int vocabSize)
    {
        if (TokenSets is not null) return;
        VocabSize = vocabSize;
        TokenSets = Enumerable.Range(0, NumExperts).Select(_ => new ulong[(vocabSize + 63) / 64]).ToArray();
    }

    public void EnableActivations(int hiddenSize)
    {
        if (SumY is not null) return;
        HiddenSize = hiddenSize;
        int n = NumExperts * hiddenSize;
        SumY = new double[n];
        SumY2 = new double[n];
        SumUnit = new double[n];
        SumNorm = new double[NumExperts];
        SumGateNorm = new double[NumExperts];
        Outliers = new long[NumExperts];
    }

    public void EnableGradients(int intermediateSize, int hiddenSize)
    {
        if (GradSum is not null) return;
        GradIntermediateSize = intermediateSize;
        GradHiddenSize = hiddenSize;
        GradSum = Enumerable.Range(0, NumExperts).Select(_ => new float[3L * intermediateSize * hiddenSize]).ToArray();
    }

    public void EnableNaee(int cap, int hiddenSize)
    {
        if (NaeeInputs is not null) return;
        NaeeCap = cap;
        NaeeHidden = hiddenSize;
        NaeeInputs = new float[(long)cap * hiddenSize];
    }

    /// <summary>Number of distinct token ids routed to expert e.</summary>
    public long VocabularyCount(int e) => TokenSets![e].Sum(w => (long)System.Numerics.BitOperations.PopCount(w));

    /// <summary>Number of token ids routed to both p and q.</summary>
    public long SharedVocabulary(int p, int q)
    {
        var a = TokenSets![p];
        var b = TokenSets![q];
        long n = 0;
        for (int i = 0; i < a.Length; i++)
            n += System.Numerics.BitOperations.PopCount(a[i] & b[i]);
        return n;
    }

    /// <summary>A fresh, empty LayerStats with the same parts enabled (used for per-source statistics and merges).</summary>
    public LayerStats EmptyLike(bool withGradientsAndNaee)
    {
        var s = new LayerStats(LayerIndex, NumExperts, TopK);
        if (HasTokenSets) s.EnableTokenSets(VocabSize);
        if (HasActivations) s.EnableActivations(HiddenSize);
        if (withGradientsAndNaee && HasGradients) s.EnableGradients(GradIntermediateSize, GradHiddenSize);
        if (withGradientsAndNaee && HasNaee) s.EnableNaee(NaeeCap, NaeeHidden);
        return s;
    }
}
