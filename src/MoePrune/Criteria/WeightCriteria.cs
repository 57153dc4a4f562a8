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
            CriterionKind.Ews => SimilaritySums(FlatExperts(view)),
            CriterionKind.Rwn => RouterNorms(view),
            CriterionKind.Wsr => Enumerable.Range(0, view.NumExperts).Select(e => StableRank(view.DownProj(e))).ToArray(),
            CriterionKind.Ewn => ToArray(FlatExperts(view).to(ScalarType.Float64).norm(1)),
            _ => throw new ArgumentException($"{kind} is not a weight criterion"),
        };
    }

    /// <summary>(E, 3·I·H) each expert's [gate | up | down] flattened, fp32.</summary>
    private static Tensor FlatExperts(IMoeLayerView view) => torch.stack(Enumerable.Range(0, view.NumExperts)
        .Select(e => torch.cat([
            view.GateProj(e).detach().to(ScalarType.Float32).reshape(-1),                  // (I·H)
            view.UpProj(e).detach().to(ScalarType.Float32).reshape(-1),                    // (I·H)
            view.DownProj(e).detach().to(ScalarType.Float32).reshape(-1)]))                // (H·I)
        .ToArray());

    /// <summary>RWN: ‖W_G[p, :]‖₂, the L2 norm of expert p's router row.</summary>
    private static double[] RouterNorms(IMoeLayerView view) =>
        ToArray(view.RouterWeight.detach().to(ScalarType.Float64).norm(1));              // (E) row norms

    /// <summary>
    /// Σ_{q≠p} cos(x_p, x_q) for the rows of <paramref name="flat"/> (E, P); a zero row has cosine 0 with
    /// everything. Shared by EWS and EGS.
    /// </summary>
    public static double[] SimilaritySums(Tensor flat)
    {
        using var scope = torch.NewDisposeScope();
        var gram = flat.mm(flat.t()).to(ScalarType.Float64);                                // (E, E) dot products
        var norms = gram.diagonal().clamp_min(0).sqrt();                                    // (E) ‖x_p‖
        var denom = norms.unsqueeze(1) * norms.unsqueeze(0);                                // (E, E) ‖x_p‖·‖x_q‖
        var cos = torch.where(denom > 0, gram / denom.clamp_min(double.Epsilon), torch.zeros_like(gram)); // (E, E)
        var sums = cos.sum(1) - cos.diagonal();                                             // (E) row sum minus self
        return ToArray(sums);
    }

    /// <summary>WSR: Σσᵢ² / σ₁² = ‖W‖_F² / σ₁² of the down projection (H, I); 0 for an all-zero matrix.</summary>
    public static double StableRank(Tensor weight)
    {
        using var scope = torch.NewDisposeScope();
        var w = weight.detach().to(ScalarType.Float32);                                     // (H, I)
        var sigma = torch.linalg.svdvals(w).to(ScalarType.Float64);                         // (min(H, I)) singular values, descending
        double top = sigma[0].item<double>();
        return top > 0 ? (sigma * sigma).sum().item<double>() / (top * top) : 0.0;
    }

    private static double[] ToArray(Tensor t) => t.to(ScalarType.Float64).contiguous().data<double>().ToArray();
}
