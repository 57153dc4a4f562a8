using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Criteria;

/// <summary>Reduces one <see cref="RoutingEvent"/> to sums and adds them to a <see cref="LayerStats"/>.</summary>
public static class RoutingEventReducer
{
    public static void Add(LayerStats s, RoutingEvent ev)
    {
        if (ev.NumExperts != s.NumExperts || ev.TopK != s.TopK)
            throw new MoePruneException($"layer {ev.LayerIndex}: routing event has {ev.NumExperts} experts/top-{ev.TopK}, statistics have {s.NumExperts}/top-{s.TopK}");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var chosen = TensorData.Longs(ev.TopKIndices);                                      // (N·k) chosen experts
        var tokens = TensorData.Longs(ev.TokenIds);                                         // (N) token ids
        AddRouting(s, chosen, tokens, ev.TopK);
        if (s.HasActivations)
            AddActivations(s, ev);
        AddNaeeRows(s, ev);
    }

    /// <summary>Appends the event's MoE inputs to the layer's NAEE sample until it holds NaeeCap rows.</summary>
    public static void AddNaeeRows(LayerStats s, RoutingEvent ev)
    {
        if (!s.HasNaee || s.NaeeRows >= s.NaeeCap) return;
        using var scope = torch.NewDisposeScope();
        var hidden = ev.Hidden.detach().to(ScalarType.Float32);                            // (N, H) MoE inputs, fp32
        if (hidden.shape[1] != s.NaeeHidden)
            throw new MoePruneException($"layer {ev.LayerIndex}: hidden size {hidden.shape[1]} differs from the statistics' {s.NaeeHidden}");
        int take = (int)Math.Min(hidden.shape[0], s.NaeeCap - s.NaeeRows);
        LayerStatsMerger.AppendNaeeRows(s, TensorData.Floats(hidden[..take]), take);
    }

    private static void AddRouting(LayerStats s, long[] chosen, long[] tokens, int k)
    {
        int e = s.NumExperts;
        s.Tokens += tokens.Length;
        for (int i = 0; i < tokens.Length; i++)
        {
            for (int a = 0; a < k; a++)
            {
                int p = (int)chosen[i * k + a];
                if (p < 0 || p >= e)
                    throw new MoePruneException($"layer {s.LayerIndex}: routed to expert {p}, but the layer has {e} experts");
                s.Count[p]++;
                for (int b = 0; b < k; b++)
                    s.CoSelect[p * e + (int)chosen[i * k + b]]++;
                if (s.TokenSets is { } sets)
                {
                    long t = tokens[i];
                    if (t < 0 || t >= s.VocabSize)
                        throw new MoePruneException($"layer {s.LayerIndex}: token id {t} outside the vocabulary of {s.VocabSize}");
                    sets[p][t >> 6] |= 1UL << (int)(t & 63);
                }
            }
        }
    }

    private static void AddActivations(LayerStats s, RoutingEvent ev)
    {
        if (ev.ExpertOutputs is null)
            throw new MoePruneException($"layer {ev.LayerIndex}: activation criteria need expert outputs, but the model did not provide them");
        int h = s.HiddenSize;
        var rowSum = ev.TopKWeights.detach().to(ScalarType.Float64).sum(1);               // (N) Σ of the applied top-k gates
        for (int e = 0; e < s.NumExperts; e++)
        {
            var y = ev.ExpertOutputs[e].detach().to(ScalarType.Float64);                    // (n_e, H) expert outputs before gating
            if (y.shape[0] == 0) continue;
            if (y.shape[1] != h)
                throw new MoePruneException($"layer {ev.LayerIndex}: expert output width {y.shape[1]} differs from the statistics' {h}");
            var rows = ev.ExpertRows[e].to(ScalarType.Int64);                                // (n_e) token rows of expert e
            if (rows.shape[0] != y.shape[0])
                throw new MoePruneException($"layer {ev.LayerIndex} expert {e}: {y.shape[0]} output rows for {rows.shape[0]} routed tokens");
            var norms = y.norm(dim: 1);                                                      // (n_e) ‖y‖₂ per token
            var inv = torch.where(norms > 0, norms.reciprocal(), torch.zeros_like(norms));   // (n_e) 1/‖y‖, 0 for zero rows
            var colSums = torch.stack([torch.ones_like(norms), inv]).mm(y);                  // (2, H) Σy, Σ y/‖y‖
            var squares = y.norm(dim: 0).square();                                           // (H) Σy²

            var gates = ev.ExpertGates[e].detach().to(ScalarType.Float64);                   // (n_e) applied gates
            var denom = rowSum.index_select(0, rows);                                        // (n_e) Σ top-k gates of those tokens
            var renorm = torch.where(denom > 0, gates / denom, torch.zeros_like(gates));     // (n_e) g̃
            var mu = y.sum(1L, keepdim: true) / h;                                           // (n_e, 1) per-token mean over H
            var variance = (norms.square().unsqueeze(1) / h - mu.square()).clamp_min(0);     // (n_e, 1) E[y²] − μ², population
            var sigma3 = variance.sqrt() * 3;                                                // (n_e, 1) 3σ per token
            var outliers = y.gt(mu + sigma3).sum() + y.lt(mu - sigma3).sum();                // () entries outside μ ± 3σ
            var scalars = TensorData.Doubles(torch.stack([norms.sum(), (renorm * norms).sum(), outliers.to(ScalarType.Float64)])); // (3)

            var sums = TensorData.Doubles(colSums);
            AddSpan(s.SumY!.AsSpan(e * h, h), sums.AsSpan(0, h));
            AddSpan(s.SumUnit!.AsSpan(e * h, h), sums.AsSpan(h, h));
            AddSpan(s.SumY2!.AsSpan(e * h, h), TensorData.Doubles(squares));
            s.SumNorm![e] += scalars[0];
            s.SumGateNorm![e] += scalars[1];
            s.Outliers![e] += (long)scalars[2];
        }
    }

    private static void AddSpan(Span<double> into, ReadOnlySpan<double> from)
    {
        for (int i = 0; i < into.Length; i++) into[i] += from[i];
    }
}
