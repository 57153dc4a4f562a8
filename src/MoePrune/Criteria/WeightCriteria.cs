using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Criteria;

/// <summary>
/// The data-free criteria, read from one layer's weights. An expert's weights W_p are its gate, up and
/// down projections flattened and concatenated ([w1 | w3 | w2] in Mixtral names).
/// </summary>
public static class WeightCriteria
{
    public static double[] Score(CriterionKind kind, IMoeLayerView view)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return kind switch
        {
            CriterionKind.Ews => ExpertGram.SimilaritySums(ExpertGram.Compute(view.NumExperts, PartLengths(view),
                (e, part, start, n) => Part(view, e, part).reshape(-1).narrow(0, start, n))),
            CriterionKind.Rwn => RouterNorms(view),
            CriterionKind.Wsr => Enumerable.Range(0, view.NumExperts).Select(e => StableRank(view.DownProj(e))).ToArray(),
            CriterionKind.Ewn => Enumerable.Range(0, view.NumExperts).Select(e => WeightNorm(view, e)).ToArray(),
            _ => throw new ArgumentException($"{kind} is not a weight criterion"),
        };
    }

    /// <summary>Part 0, 1, 2 of W_p: gate (I, H), up (I, H), down (H, I).</summary>
    private static Tensor Part(IMoeLayerView view, int expert, int part) => part switch
    {
        0 => view.GateProj(expert),
        1 => view.UpProj(expert),
        _ => view.DownProj(expert),
    };

    private static long[] PartLengths(IMoeLayerView view)
    {
        long n = (long)view.ExpertIntermediateSize * view.HiddenSize;
        return [n, n, n];
    }

    /// <summary>EWN: ‖[gate | up | down]‖₂ = sqrt of the summed squared Frobenius norms, fp64.</summary>
    private static double WeightNorm(IMoeLayerView view, int e)
    {
        double sq = 0;
        for (int part = 0; part < 3; part++)
        {
            using var scope = torch.NewDisposeScope();                                       // one part's fp64 copies at a time
            // x·x rather than square(): square() is pow with an implicit Scalar 2, and one run failed inside it with
            // libtorch's "Unknown scalar type" (a Scalar freed during the call, under load); no Scalar here.
            var w = Part(view, e, part).detach().to(ScalarType.Float64);                    // (I, H) or (H, I) fp64
            sq += w.mul(w).sum().item<double>();
        }
        return Math.Sqrt(sq);
    }

    /// <summary>RWN: ‖W_G[p, :]‖₂, the L2 norm of expert p's router row.</summary>
    private static double[] RouterNorms(IMoeLayerView view) =>
        TensorData.Doubles(view.RouterWeight.detach().to(ScalarType.Float64).norm(dim: 1)); // (E) row norms

    /// <summary>WSR: Σσᵢ² / σ₁² = ‖W‖_F² / σ₁² of the down projection (H, I); 0 for an all-zero matrix.</summary>
    public static double StableRank(Tensor weight)
    {
        using var scope = torch.NewDisposeScope();
        var w = weight.detach().to(ScalarType.Float32);                                     // (H, I)
        var sigma = torch.linalg.svdvals(w).to(ScalarType.Float64);                         // (min(H, I)) singular values, descending
        double top = sigma[0].item<double>();
        return top > 0 ? (sigma * sigma).sum().item<double>() / (top * top) : 0.0;
    }

}
