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
        var chosen = ev.TopKIndices.to(ScalarType.Int64).contiguous().data<long>().ToArray(); // (N·k) chosen experts
        var tokens = ev.TokenIds.to(ScalarType.Int64).contiguous().data<long>().ToArray();    // (N) token ids
        AddRouting(s, chosen, tokens, ev.TopK);
        if (s.HasActivations)
            AddActivations(s, ev);
        if (s.HasNaee && s.NaeeRows < s.NaeeCap)
        {
            var hidden = ev.Hidden.detach().to(ScalarType.Float32).contiguous(); // (N, H) MoE inputs, fp32
            if (hidden.shape[1] != s.NaeeHidden)
                throw new MoePruneException($"layer {ev.LayerIndex}: hidden size {hidden.shape[1]} differs from the statistics' {s.NaeeHidden}");
            LayerStatsMerger.AppendNaeeRows(s, hidden.data<float>().ToArray(), (int)hidden.shape[0]);
        }
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
            var norms = y.norm(1);                                                           // (n_e) ‖y‖₂ per token
            var unit = y / norms.clamp_min(double.Epsilon).unsqueeze(1);                     // (n_e, H) y/‖y‖; zero rows stay 0
            var sums = torch.stack([y.sum(0L), (y * y).sum(0L), unit.sum(0L)]).contiguous();    // (3, H) Σy, Σy², Σŷ
            var arr = sums.data<double>().ToArray();
            AddSpan(s.SumY!.AsSpan(e * h, h), arr.AsSpan(0, h));
            AddSpan(s.SumY2!.AsSpan(e * h, h), arr.AsSpan(h, h));
            AddSpan(s.SumUnit!.AsSpan(e * h, h), arr.AsSpan(2 * h, h));
            s.SumNorm![e] += norms.sum().item<double>();

            var rows = ev.ExpertRows[e].to(ScalarType.Int64);                                // (n_e) token rows of expert e
            var gates = ev.ExpertGates[e].detach().to(ScalarType.Float64);                   // (n_e) applied gates
            var denom = rowSum.index_select(0, rows);                                        // (n_e) Σ top-k gates of those tokens
            var renorm = torch.where(denom > 0, gates / denom.clamp_min(double.Epsilon), torch.zeros_like(gates)); // (n_e) g̃
            s.SumGateNorm![e] += (renorm * norms).sum().item<double>();

            var mu = y.mean([1], keepdim: true);                                             // (n_e, 1) per-token mean over H
            var sigma = y.std(1, unbiased: false, keepdim: true);                            // (n_e, 1) per-token population std
            s.Outliers![e] += (y - mu).abs().gt(sigma * 3).sum().item<long>();
        }
    }

    private static void AddSpan(Span<double> into, ReadOnlySpan<double> from)
    {
        for (int i = 0; i < into.Length; i++) into[i] += from[i];
    }
}
