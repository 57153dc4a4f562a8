using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Pruning.SemiStructured;

/// <summary>How 2:4 pruning ranks the weights of a group: |W| (magnitude) or |W| · ‖X_j‖₂ (Wanda, Sun et al. 2023).</summary>
public enum TwoFourMethod { Magnitude, Wanda }

/// <summary>
/// 2:4 semi-structured weight pruning of the routed experts, in memory: in every row of every expert projection, each
/// group of 4 consecutive input weights keeps the 2 with the largest score and the other 2 are set to 0 (half of the
/// expert weights; routers, attention, norms and embeddings untouched). Wanda scales |W_ij| by the norm of input
/// feature j over the calibration tokens routed to the expert (<see cref="WandaNorms"/>).
/// </summary>
public static class TwoFourPruning
{
    /// <summary>(out, in) bool, true where a weight is kept: per row, the top 2 of each group of 4 columns by <paramref name="score"/>.</summary>
    public static Tensor KeepMask(Tensor score)
    {
        long rows = score.shape[0], cols = score.shape[1];
        if (cols % 4 != 0) throw new MoePruneException($"2:4 pruning: a projection with {cols} input features is not a multiple of 4");
        using var scope = NewDisposeScope();
        var groups = score.reshape(rows, cols / 4, 4);                                      // (out, in/4, 4)
        var top = groups.topk(2, dim: -1).indexes;                                         // (out, in/4, 2) int64
        var keep = zeros(groups.shape, ScalarType.Bool).scatter_(-1, top, ones(top.shape, ScalarType.Bool)); // (out, in/4, 4)
        return keep.reshape(rows, cols).MoveToOuterDisposeScope();                         // (out, in)
    }

    /// <summary>Prunes every expert of every MoE layer of <paramref name="model"/> in place; Wanda needs <paramref name="norms"/>.</summary>
    /// <returns>Weights zeroed and weights in the pruned projections.</returns>
    public static (long Zeroed, long Total) Apply(MoeForCausalLM model, TwoFourMethod method, WandaNorms? norms = null)
    {
        if (method == TwoFourMethod.Wanda && norms is null) throw new ArgumentException("Wanda needs input norms", nameof(norms));
        long zeroed = 0, total = 0;
        using var noGrad = no_grad();
        foreach (var view in model.MoeLayers)
            for (int e = 0; e < view.NumExperts; e++)
            {
                using var scope = NewDisposeScope();
                var (input, inter) = norms?.Norms(view.LayerIndex, e, view.HiddenSize, view.ExpertIntermediateSize)
                                     ?? (ones(view.HiddenSize), ones(view.ExpertIntermediateSize));  // (H), (I)
                foreach (var (weight, features) in new[] { (view.GateProj(e), input), (view.UpProj(e), input), (view.DownProj(e), inter) })
                {
                    var score = weight.abs().to(ScalarType.Float32);                          // (out, in)
                    if (method == TwoFourMethod.Wanda) score = score * features.unsqueeze(0); // (out, in)
                    var keep = KeepMask(score);                                               // (out, in) bool
                    weight.mul_(keep.to(weight.dtype));
                    zeroed += keep.numel() - keep.sum().item<long>();
                    total += keep.numel();
                }
            }
        return (zeroed, total);
    }
}
