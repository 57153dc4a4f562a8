using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Criteria.Statistics;

/// <summary>
/// Sums over the routed tokens of each expert's output y = E_p(x) (before gating): the activation-guided
/// criteria (EAS, EAE, EAO, EAN) and REAP are exact functions of them. Memory O(E·H).
/// </summary>
public sealed class ActivationSums : ILayerStatistic
{
    public static readonly StatisticKind Kind = new("activations", "activation sums", new(ObserverNeeds.ExpertOutputs), PerSource: true,
        c => new ActivationSums(c.LayerIndex, c.NumExperts, c.HiddenSize),
        r => Read(r));

    StatisticKind ILayerStatistic.Kind => Kind;

    public int LayerIndex { get; }
    public int NumExperts { get; }
    public int HiddenSize { get; }
    /// <summary>(E·H) Σ y over routed tokens.</summary>
    public double[] SumY { get; }
    /// <summary>(E·H) Σ y².</summary>
    public double[] SumY2 { get; }
    /// <summary>(E·H) Σ y/‖y‖ (rows with ‖y‖ = 0 add 0): cross-expert cosine sums factorise through it.</summary>
    public double[] SumUnit { get; }
    /// <summary>(E) Σ ‖y‖₂.</summary>
    public double[] SumNorm { get; }
    /// <summary>(E) Σ g̃·‖y‖₂ with g̃ the top-k gate renormalised over the token's top-k.</summary>
    public double[] SumGateNorm { get; }
    /// <summary>(E) entries of y outside its own token's μ ± 3σ (μ, σ over the hidden dimension).</summary>
    public long[] Outliers { get; }

    public ActivationSums(int layerIndex, int numExperts, int hiddenSize)
    {
        LayerIndex = layerIndex;
        NumExperts = numExperts;
        HiddenSize = hiddenSize;
        int n = numExperts * hiddenSize;
        SumY = new double[n];
        SumY2 = new double[n];
        SumUnit = new double[n];
        SumNorm = new double[numExperts];
        SumGateNorm = new double[numExperts];
        Outliers = new long[numExperts];
    }

    public void Add(RoutingEvent ev)
    {
        if (ev.ExpertOutputs is null)
            throw new MoePruneException($"layer {ev.LayerIndex}: activation criteria need expert outputs, but the model did not provide them");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        int h = HiddenSize;
        var rowSum = ev.TopKWeights.detach().to(ScalarType.Float64).sum(1);               // (N) Σ of the applied top-k gates
        for (int e = 0; e < NumExperts; e++)
        {
            var y = ev.ExpertOutputs[e].detach().to(ScalarType.Float64);                    // (n_e, H) expert outputs before gating
            if (y.shape[0] == 0) continue;
            if (y.shape[1] != h)
                throw new MoePruneException($"layer {ev.LayerIndex}: expert output width {y.shape[1]} differs from the statistics' {h}");
            var rows = ev.ExpertRows[e].to(ScalarType.Int64);                                // (n_e) token rows of expert e
            if (rows.shape[0] != y.shape[0])
                throw new MoePruneException($"layer {ev.LayerIndex} expert {e}: {y.shape[0]} output rows for {rows.shape[0]} routed tokens");
            var norms = y.norm(dim: 1);                                                      // (n_e) ‖y‖₂ per token
            var inv = torch.where(norms > Scalars.Of(0), norms.reciprocal(), torch.zeros_like(norms));   // (n_e) 1/‖y‖, 0 for zero rows
            var colSums = torch.stack([torch.ones_like(norms), inv]).mm(y);                  // (2, H) Σy, Σ y/‖y‖
            var squares = y.norm(dim: 0).square();                                           // (H) Σy²

            var gates = ev.ExpertGates[e].detach().to(ScalarType.Float64);                   // (n_e) applied gates
            var denom = rowSum.index_select(0, rows);                                        // (n_e) Σ top-k gates of those tokens
            var renorm = torch.where(denom > Scalars.Of(0), gates / denom, torch.zeros_like(gates));     // (n_e) g̃
            var mu = y.sum(1L, keepdim: true) / Scalars.Of(h);                                           // (n_e, 1) per-token mean over H
            var variance = (norms.square().unsqueeze(1) / Scalars.Of(h) - mu.square()).clamp_min(Scalars.Of(0));     // (n_e, 1) E[y²] − μ², population
            var sigma3 = variance.sqrt() * Scalars.Of(3);                                                // (n_e, 1) 3σ per token
            var outliers = y.gt(mu + sigma3).sum() + y.lt(mu - sigma3).sum();                // () entries outside μ ± 3σ
            var scalars = TensorData.Doubles(torch.stack([norms.sum(), (renorm * norms).sum(), outliers.to(ScalarType.Float64)])); // (3)

            var sums = TensorData.Doubles(colSums);
            AddSpan(SumY.AsSpan(e * h, h), sums.AsSpan(0, h));
            AddSpan(SumUnit.AsSpan(e * h, h), sums.AsSpan(h, h));
            AddSpan(SumY2.AsSpan(e * h, h), TensorData.Doubles(squares));
            SumNorm[e] += scalars[0];
            SumGateNorm[e] += scalars[1];
            Outliers[e] += (long)scalars[2];
        }
    }

    public void MergeFrom(ILayerStatistic other)
    {
        var o = (ActivationSums)other;
        if (o.HiddenSize != HiddenSize)
            throw new MoePruneException($"layer {LayerIndex}: cannot merge activation sums of different sizes ({o.HiddenSize} into {HiddenSize})");
        AddSpan(SumY, o.SumY);
        AddSpan(SumY2, o.SumY2);
        AddSpan(SumUnit, o.SumUnit);
        AddSpan(SumNorm, o.SumNorm);
        AddSpan(SumGateNorm, o.SumGateNorm);
        for (int i = 0; i < Outliers.Length; i++) Outliers[i] += o.Outliers[i];
    }

    public ILayerStatistic EmptyLike() => new ActivationSums(LayerIndex, NumExperts, HiddenSize);

    public void Write(StatisticWriter w)
    {
        long e = NumExperts, h = HiddenSize;
        w.Size("hidden_size", HiddenSize);
        w.Doubles("sum_y", SumY, e, h);
        w.Doubles("sum_y2", SumY2, e, h);
        w.Doubles("sum_unit", SumUnit, e, h);
        w.Doubles("sum_norm", SumNorm);
        w.Doubles("sum_gate_norm", SumGateNorm);
        w.Longs("outliers", Outliers);
    }

    private static ActivationSums Read(StatisticReader r)
    {
        var c = r.Context;
        var s = new ActivationSums(c.LayerIndex, c.NumExperts, r.IntSize("hidden_size"));
        long eh = (long)s.NumExperts * s.HiddenSize;
        r.Doubles("sum_y", eh).CopyTo(s.SumY, 0);
        r.Doubles("sum_y2", eh).CopyTo(s.SumY2, 0);
        r.Doubles("sum_unit", eh).CopyTo(s.SumUnit, 0);
        r.Doubles("sum_norm", s.NumExperts).CopyTo(s.SumNorm, 0);
        r.Doubles("sum_gate_norm", s.NumExperts).CopyTo(s.SumGateNorm, 0);
        r.Longs("outliers", s.NumExperts).CopyTo(s.Outliers, 0);
        return s;
    }

    private static void AddSpan(Span<double> into, ReadOnlySpan<double> from)
    {
        for (int i = 0; i < into.Length; i++) into[i] += from[i];
    }
}
