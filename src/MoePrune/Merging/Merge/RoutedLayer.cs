using MoePrune.Models;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Merging.Merge;

/// <summary>
/// The routed part of a sparse-MoE layer's output (no shared expert): logits x Wᵀ, the family's top-k
/// routing, and Σ_k g_k · E_k(x), each expert run on its own rows. Differentiable in the router and the
/// expert weights (used by <see cref="LearnedMerge"/>).
/// </summary>
public static class RoutedLayer
{
    /// <param name="x">(N, H)</param>
    /// <param name="router">(R, H)</param>
    /// <param name="experts">R experts</param>
    public static Tensor Output(Tensor x, Tensor router, IReadOnlyList<ExpertWeights> experts, IRoutingStrategy routing)
    {
        using var scope = NewDisposeScope();
        var logits = nn.functional.linear(x.to(router.dtype), router);                              // (N, R)
        var decision = routing.Route(logits);                                                       // (N, k), (N, k)
        var output = zeros(x.shape[0], x.shape[1], ScalarType.Float32, x.device);                    // (N, H) fp32
        for (int e = 0; e < experts.Count; e++)
        {
            var hit = decision.Indices.eq(Scalars.Of(e));                                                       // (N, k) bool
            var rows = hit.nonzero().select(1, 0);                                                  // (n_e) token of each hit
            if (rows.shape[0] == 0) continue;
            var gates = decision.Weights.masked_select(hit).unsqueeze(1);                          // (n_e, 1) same order
            var ye = experts[e].Forward(x.index_select(0, rows)).to(ScalarType.Float32) * gates;   // (n_e, H)
            output = output.index_add(0, rows, ye, Scalars.Of(1));                                                // (N, H)
        }
        return output.MoveToOuterDisposeScope();
    }
}
