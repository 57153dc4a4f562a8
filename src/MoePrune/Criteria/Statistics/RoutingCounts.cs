using MoePrune.Observation;
using TorchSharp;

namespace MoePrune.Criteria.Statistics;

/// <summary>
/// Routed tokens, tokens per expert and co-selection counts of one layer (EUF, ECC, the pair tie-breaks and
/// every denominator). Every statistics set holds it: it also gives the token counts.
/// </summary>
public sealed class RoutingCounts : ILayerStatistic
{
    public static readonly StatisticKind Kind = new("routing", "routing counts", new(ObserverNeeds.Routing), PerSource: true,
        c => new RoutingCounts(c.LayerIndex, c.NumExperts),
        r => Read(r));

    StatisticKind ILayerStatistic.Kind => Kind;

    public int LayerIndex { get; }
    public int NumExperts { get; }
    /// <summary>Non-padded tokens routed through this layer.</summary>
    public long Tokens { get; set; }
    /// <summary>(E) tokens routed to each expert.</summary>
    public long[] Count { get; }
    /// <summary>(E·E) row-major: tokens whose top-k holds both p and q; the diagonal equals Count.</summary>
    public long[] CoSelect { get; }

    public RoutingCounts(int layerIndex, int numExperts)
    {
        LayerIndex = layerIndex;
        NumExperts = numExperts;
        Count = new long[numExperts];
        CoSelect = new long[numExperts * numExperts];
    }

    public void Add(RoutingEvent ev)
    {
        using var scope = torch.NewDisposeScope();
        var chosen = TensorData.Longs(ev.TopKIndices);                                      // (N·k) chosen experts
        int n = (int)ev.TokenIds.shape[0], k = ev.TopK, e = NumExperts;
        Tokens += n;
        for (int i = 0; i < n; i++)
        {
            for (int a = 0; a < k; a++)
            {
                int p = (int)chosen[i * k + a];
                if (p < 0 || p >= e)
                    throw new MoePruneException($"layer {LayerIndex}: routed to expert {p}, but the layer has {e} experts");
                Count[p]++;
                for (int b = 0; b < k; b++)
                    CoSelect[p * e + (int)chosen[i * k + b]]++;
            }
        }
    }

    public void MergeFrom(ILayerStatistic other)
    {
        var o = (RoutingCounts)other;
        Tokens += o.Tokens;
        for (int i = 0; i < Count.Length; i++) Count[i] += o.Count[i];
        for (int i = 0; i < CoSelect.Length; i++) CoSelect[i] += o.CoSelect[i];
    }

    public ILayerStatistic EmptyLike() => new RoutingCounts(LayerIndex, NumExperts);

    public void Write(StatisticWriter w)
    {
        w.Size("tokens", Tokens);
        w.Longs("count", Count);
        w.Longs("co_select", CoSelect, NumExperts, NumExperts);
    }

    private static RoutingCounts Read(StatisticReader r)
    {
        var c = r.Context;
        var s = new RoutingCounts(c.LayerIndex, c.NumExperts) { Tokens = r.Size("tokens") };
        r.Longs("count", c.NumExperts).CopyTo(s.Count, 0);
        r.Longs("co_select", (long)c.NumExperts * c.NumExperts).CopyTo(s.CoSelect, 0);
        return s;
    }
}
