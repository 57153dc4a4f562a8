using MoePrune.Merging;
using MoePrune.Merging.Similarity;
using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Criteria.Statistics;

/// <summary>
/// The fp64 Gram matrix LᵀL (E × E) of a layer's router logits L (N, E) over every calibration token it routed:
/// the router-logit similarity of merging (M-SMoE's cos(L[:, i], L[:, j]), <see cref="Similarity"/>) read from the
/// whole pass instead of the input sample. O(E²) memory; a sum, so it merges by addition and is kept per source.
/// </summary>
public sealed class RouterLogitGram : ILayerStatistic
{
    public static readonly StatisticKind Kind = new("router_logit_gram", "router-logit Gram matrix", new(ObserverNeeds.Routing), PerSource: true,
        c => new RouterLogitGram(c.LayerIndex, c.NumExperts),
        r => Read(r));

    StatisticKind ILayerStatistic.Kind => Kind;

    public int LayerIndex { get; }
    public int NumExperts { get; }
    /// <summary>Tokens added.</summary>
    public long Rows { get; private set; }
    /// <summary>(E·E) row-major Σ_tokens l_i l_j.</summary>
    public double[] Gram { get; }

    public RouterLogitGram(int layerIndex, int numExperts)
    {
        LayerIndex = layerIndex;
        NumExperts = numExperts;
        Gram = new double[numExperts * numExperts];
    }

    public void Add(RoutingEvent e)
    {
        using var scope = torch.NewDisposeScope();
        var l = e.RouterLogits.detach().to(ScalarType.Float64);                             // (N, E)
        if (l.shape[1] != NumExperts)
            throw new MoePruneException($"layer {LayerIndex}: router logits for {l.shape[1]} experts, the statistic has {NumExperts}");
        var gram = TensorData.Doubles(l.t().matmul(l));                                     // (E·E)
        for (int i = 0; i < Gram.Length; i++) Gram[i] += gram[i];
        Rows += l.shape[0];
    }

    /// <summary>cos(L[:, i], L[:, j]) over the tokens seen (raw logits, not centred).</summary>
    public SimilarityMatrix Similarity()
    {
        if (Rows == 0) throw new MoePruneException($"layer {LayerIndex}: router-logits similarity: no calibration token reached the layer");
        return new SimilarityMatrix(SimilarityKinds.Name(SimilarityKind.RouterLogits), NumExperts, CosineMatrix.FromGram(Gram, NumExperts));
    }

    public void MergeFrom(ILayerStatistic other)
    {
        var o = (RouterLogitGram)other;
        if (o.NumExperts != NumExperts)
            throw new MoePruneException($"layer {LayerIndex}: cannot merge router-logit Gram matrices of {o.NumExperts} and {NumExperts} experts");
        for (int i = 0; i < Gram.Length; i++) Gram[i] += o.Gram[i];
        Rows += o.Rows;
    }

    public ILayerStatistic EmptyLike() => new RouterLogitGram(LayerIndex, NumExperts);

    public void Write(StatisticWriter w)
    {
        w.Size("rows", Rows);
        w.Doubles("gram", Gram, NumExperts, NumExperts);
    }

    private static RouterLogitGram Read(StatisticReader r)
    {
        var s = new RouterLogitGram(r.Context.LayerIndex, r.Context.NumExperts) { Rows = r.Size("rows") };
        r.Doubles("gram", (long)s.NumExperts * s.NumExperts).CopyTo(s.Gram, 0);
        return s;
    }
}
