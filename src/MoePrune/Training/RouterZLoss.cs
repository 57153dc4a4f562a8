using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>ST-MoE router z-loss: mean over routed rows and layers of logsumexp(router logits)², which keeps logits small.</summary>
public static class RouterZLoss
{
    /// <param name="routerLogits">One (N, E) tensor per sparse layer.</param>
    public static Tensor Compute(IReadOnlyList<Tensor> routerLogits)
    {
        using var scope = NewDisposeScope();
        var logits = cat(routerLogits.ToArray(), 0).to(ScalarType.Float32);            // (L·N, E) fp32
        var z = logits.logsumexp(-1);                                                 // (L·N)
        return z.square().mean().MoveToOuterDisposeScope();                           // () fp32
    }
}
