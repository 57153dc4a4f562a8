using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Merging.Merge;

/// <summary>Σ α_i · t_i (times a scale), accumulated in fp64 and returned in the dtype of the parts.</summary>
public static class WeightedSum
{
    public static Tensor Combine(IReadOnlyList<Tensor> parts, IReadOnlyList<double> alpha, double scale = 1)
    {
        if (parts.Count != alpha.Count || parts.Count == 0) throw new ArgumentException("one coefficient per part");
        using var scope = NewDisposeScope();
        var sum = zeros(parts[0].shape, ScalarType.Float64, parts[0].device);                      // part shape fp64
        for (int i = 0; i < parts.Count; i++)
            if (alpha[i] != 0) sum.add_(parts[i].to(ScalarType.Float64), alpha: Scalars.Of(alpha[i]));
        if (scale != 1) sum.mul_(Scalars.Of(scale));
        return sum.to(parts[0].dtype).MoveToOuterDisposeScope();                                   // part shape
    }

    /// <summary>The merged expert of <paramref name="members"/> with coefficients α and output scale s; a group of one is copied unchanged.</summary>
    public static MergedExpert Expert(MoeLayerWeights layer, int[] members, double[] alpha, double scale)
    {
        using var scope = NewDisposeScope();
        if (members.Length == 1)
        {
            var only = layer.Experts[members[0]];
            return Detach(new MergedExpert(members, [1.0], 1.0,
                new ExpertWeights(only.GateProj.detach().clone(), only.UpProj.detach().clone(), only.DownProj.detach().clone()),
                layer.Router[members[0]].detach().clone()));
        }
        var parts = members.Select(e => layer.Experts[e]).ToArray();
        var weights = new ExpertWeights(
            Combine(parts.Select(p => p.GateProj).ToArray(), alpha),                                // (I, H)
            Combine(parts.Select(p => p.UpProj).ToArray(), alpha),                                  // (I, H)
            Combine(parts.Select(p => p.DownProj).ToArray(), alpha, scale));                        // (H, I)
        var row = Combine(members.Select(e => layer.Router[e]).ToArray(), alpha);                   // (H)
        return Detach(new MergedExpert(members, alpha, scale, weights, row));
    }

    private static MergedExpert Detach(MergedExpert e)
    {
        e.Weights.GateProj.MoveToOuterDisposeScope();
        e.Weights.UpProj.MoveToOuterDisposeScope();
        e.Weights.DownProj.MoveToOuterDisposeScope();
        e.RouterRow.MoveToOuterDisposeScope();
        return e;
    }
}
