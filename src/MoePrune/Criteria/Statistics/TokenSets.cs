using System.Runtime.InteropServices;
using MoePrune.Observation;
using TorchSharp;

namespace MoePrune.Criteria.Statistics;

/// <summary>
/// Per expert, the set of token ids routed to it at least once, as a bitset over the vocabulary (EVTC, ETS).
/// Merges by OR. Stored as int64 words holding the same bits.
/// </summary>
public sealed class TokenSets : ILayerStatistic
{
    public static readonly StatisticKind Kind = new("token_sets", "token sets", new(ObserverNeeds.Routing), PerSource: true,
        c => new TokenSets(c.LayerIndex, c.NumExperts, c.VocabSize),
        r => Read(r));

    StatisticKind ILayerStatistic.Kind => Kind;

    public int LayerIndex { get; }
    public int NumExperts { get; }
    public int VocabSize { get; }
    /// <summary>(E)[⌈V/64⌉] bit t of expert e set when token id t was routed to e at least once.</summary>
    public ulong[][] Bits { get; }

    public TokenSets(int layerIndex, int numExperts, int vocabSize)
    {
        LayerIndex = layerIndex;
        NumExperts = numExperts;
        VocabSize = vocabSize;
        Bits = Enumerable.Range(0, numExperts).Select(_ => new ulong[(vocabSize + 63) / 64]).ToArray();
    }

    public void Add(RoutingEvent ev)
    {
        using var scope = torch.NewDisposeScope();
        var chosen = TensorData.Longs(ev.TopKIndices);                                      // (N·k) chosen experts
        var tokens = TensorData.Longs(ev.TokenIds);                                         // (N) token ids
        int k = ev.TopK;
        for (int i = 0; i < tokens.Length; i++)
        {
            for (int a = 0; a < k; a++)
            {
                int p = (int)chosen[i * k + a];
                if (p < 0 || p >= NumExperts)
                    throw new MoePruneException($"layer {LayerIndex}: routed to expert {p}, but the layer has {NumExperts} experts");
                long t = tokens[i];
                if (t < 0 || t >= VocabSize)
                    throw new MoePruneException($"layer {LayerIndex}: token id {t} outside the vocabulary of {VocabSize}");
                Bits[p][t >> 6] |= 1UL << (int)(t & 63);
            }
        }
    }

    /// <summary>Number of distinct token ids routed to expert e.</summary>
    public long VocabularyCount(int e) => Bits[e].Sum(w => (long)System.Numerics.BitOperations.PopCount(w));

    /// <summary>Number of token ids routed to both p and q.</summary>
    public long SharedVocabulary(int p, int q)
    {
        var a = Bits[p];
        var b = Bits[q];
        long n = 0;
        for (int i = 0; i < a.Length; i++)
            n += System.Numerics.BitOperations.PopCount(a[i] & b[i]);
        return n;
    }

    public void MergeFrom(ILayerStatistic other)
    {
        var o = (TokenSets)other;
        if (o.VocabSize != VocabSize)
            throw new MoePruneException($"layer {LayerIndex}: cannot merge token sets of different sizes ({o.VocabSize} into {VocabSize})");
        for (int e = 0; e < Bits.Length; e++)
            for (int w = 0; w < Bits[e].Length; w++)
                Bits[e][w] |= o.Bits[e][w];
    }

    public ILayerStatistic EmptyLike() => new TokenSets(LayerIndex, NumExperts, VocabSize);

    public void Write(StatisticWriter w)
    {
        int words = (VocabSize + 63) / 64;
        w.Size("vocab_size", VocabSize);
        var all = new long[NumExperts * words];                                             // (E, ⌈V/64⌉) the same bits as int64
        for (int e = 0; e < NumExperts; e++)
            MemoryMarshal.Cast<ulong, long>(Bits[e]).CopyTo(all.AsSpan(e * words, words));
        w.Longs("bits", all, NumExperts, words);
    }

    private static TokenSets Read(StatisticReader r)
    {
        var c = r.Context;
        var s = new TokenSets(c.LayerIndex, c.NumExperts, r.IntSize("vocab_size"));
        int words = (s.VocabSize + 63) / 64;
        var all = r.Longs("bits", (long)c.NumExperts * words);
        for (int e = 0; e < c.NumExperts; e++)
            MemoryMarshal.Cast<long, ulong>(all.AsSpan(e * words, words)).CopyTo(s.Bits[e]);
        return s;
    }
}
