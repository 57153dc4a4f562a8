using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Merging.Merge;

/// <summary>
/// Σ α_i · t_i (times a scale), accumulated in fp64 and returned in the dtype of the parts; computed a slice of rows
/// at a time (element by element the same), so that the fp64 working copies stay small beside a large expert.
/// </summary>
public static class WeightedSum
{
    /// <summary>Elements per fp64 slice: 32 MiB of accumulator.</summary>
    private const long SliceElements = 1L << 22;

    public static Tensor Combine(IReadOnlyList<Tensor> parts, IReadOnlyList<double> alpha, double scale = 1)
    {
        if (parts.Count != alpha.Count || parts.Count == 0) throw new ArgumentException("one coefficient per part");
        using var scope = NewDisposeScope();
        var result = empty(parts[0].shape, parts[0].dtype, parts[0].device);                       // part shape
        if (parts[0].dim() == 0) return Slice(parts, alpha, scale, p => p).to(parts[0].dtype).MoveToOuterDisposeScope();
        long rows = parts[0].shape[0], step = Math.Max(1, SliceElements / Math.Max(1, parts[0].NumberOfElements / Math.Max(1, rows)));
        for (long r = 0; r < rows; r += step)
        {
            using var inner = NewDisposeScope();
            long n = Math.Min(step, rows - r);
            result.narrow(0, r, n).copy_(Slice(parts, alpha, scale, p => p.narrow(0, r, n)));    // (n, ...), converted by the copy
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Σ α_i · slice(t_i) · scale in fp64.</summary>
    private static Tensor Slice(IReadOnlyList<Tensor> parts, IReadOnlyList<double> alpha, double scale, Func<Tensor, Tensor> slice)
    {
        var first = slice(parts[0]);
        var sum = zeros(first.shape, ScalarType.Float64, first.device);                          // slice shape fp64
        for (int i = 0; i < parts.Count; i++)
            if (alpha[i] != 0) sum.add_(slice(parts[i]).to(ScalarType.Float64), alpha: Scalars.Of(alpha[i]));
        if (scale != 1) sum.mul_(Scalars.Of(scale));
        return sum;                                                                                // slice shape fp64
    }

    /// <summary>
    /// The merged expert of <paramref name="members"/> with coefficients α and output scale s; a group of one is its member
    /// unchanged, sharing the member's storage (never written: exports copy singletons from the source).
    /// </summary>
    public static MergedExpert Expert(MoeLayerWeights layer, int[] members, double[] alpha, double scale)
    {
        using var scope = NewDisposeScope();
        if (members.Length == 1)
        {
            var only = layer.Experts[members[0]];
            return Detach(new MergedExpert(members, [1.0], 1.0,
                new ExpertWeights(only.GateProj.detach(), only.UpProj.detach(), only.DownProj.detach()),
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
