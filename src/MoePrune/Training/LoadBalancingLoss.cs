using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Training;

/// <summary>
/// The Switch / Mixtral auxiliary load-balancing loss as transformers' <c>load_balancing_loss_func</c>: the
/// router logits of all sparse layers are concatenated (N·L, E), softmaxed in fp32, the top-k experts of each
/// row marked; f (k, E) = mean over rows of the top-k one-hot masks, P (E) = mean router probability, and the
/// loss is E · Σ_{k,e} f_{k,e} · P_e. Padding rows are excluded (the model passes non-padded rows only;
/// <paramref name="rowMask"/> drops further rows). A perfectly balanced router gives k.
/// </summary>
public static class LoadBalancingLoss
{
    /// <param name="routerLogits">One (N, E) tensor per sparse layer, any float dtype.</param>
    /// <param name="rowMask">Optional (N) bool of rows that count, shared by all layers.</param>
    public static Tensor Compute(IReadOnlyList<Tensor> routerLogits, int topK, Tensor? rowMask = null)
    {
        using var scope = NewDisposeScope();
        var kept = routerLogits.ToArray();                                            // L × (N, E)
        if (rowMask is not null)
        {
            var rows = rowMask.nonzero().reshape(-1);                                 // (N') int64 counted rows
            kept = kept.Select(l => l.index_select(0, rows)).ToArray();               // L × (N', E)
        }
        var logits = cat(kept, 0).to(ScalarType.Float32);                             // (L·N', E) fp32
        long experts = logits.shape[1];
        // python: routing_weights = torch.nn.functional.softmax(concatenated_gate_logits, dim=-1)
        var probs = logits.softmax(-1);                                               // (L·N', E)
        var selected = probs.topk(topK, -1).indexes;                                  // (L·N', k)
        var expertMask = nn.functional.one_hot(selected, experts).to(ScalarType.Float32); // (L·N', k, E)
        var tokensPerExpert = expertMask.mean([0]);                                   // (k, E)
        var probPerExpert = probs.mean([0]);                                          // (E)
        var loss = (tokensPerExpert * probPerExpert.unsqueeze(0)).sum() * Scalars.Of(experts);    // () fp32
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same loss computed for each layer on its own and averaged over layers. The concatenated form above only
    /// balances the experts summed over layers: an expert that no token reaches in one layer can be offset by
    /// one that is overused in another. This form balances every layer; a perfectly balanced router still gives k.
    /// </summary>
    public static Tensor ComputePerLayer(IReadOnlyList<Tensor> routerLogits, int topK, Tensor? rowMask = null)
    {
        using var scope = NewDisposeScope();
        var perLayer = routerLogits.Select(l => Compute([l], topK, rowMask)).ToArray();  // L × ()
        var loss = stack(perLayer).mean();                                            // () fp32
        return loss.MoveToOuterDisposeScope();
    }
}
