using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Merging.Similarity;

/// <summary>How an expert is reduced to one linear map Ŵ (H, H) for the surrogate similarity (docs/MERGING.md §1.3).</summary>
public enum SurrogateForm
{
    /// <summary>Ŵ = W_down (W_gate ⊙ W_up): the paper's data-free surrogate as reported.</summary>
    DownGateUp,
    /// <summary>Ŵ = ∂E/∂x at the mean calibration input x̄ = W_down (diag(silu′(g) ⊙ u) W_gate + diag(silu(g)) W_up), g = W_gate x̄, u = W_up x̄.</summary>
    MeanInputJacobian,
}

/// <summary>
/// Model-centric similarities, compared by mean squared error and returned negated (−MSE, larger = more
/// alike). Flattened: the concatenation [gate, up, down] (3·I·H values per expert). Surrogate: the (H, H)
/// map Ŵ of <see cref="SurrogateForm"/>. Both stream over row slices of E experts at once
/// (<see cref="PairwiseDistance"/>), so no E-sized copy of the layer is made.
/// </summary>
public static class WeightSimilarity
{
    /// <summary>Values (per expert) in one slice: bounds the (E, d) slab to about 4M values.</summary>
    public const int SliceValues = 1 << 22;

    public static SimilarityMatrix FlattenedWeights(MoeLayerWeights layer, int sliceValues = SliceValues)
    {
        int n = layer.NumExperts;
        var acc = new PairwiseDistance(n);
        foreach (var pick in new Func<ExpertWeights, Tensor>[] { w => w.GateProj, w => w.UpProj, w => w.DownProj })
        {
            var first = pick(layer.Experts[0]);                                               // (rows, cols)
            long rows = first.shape[0], cols = first.shape[1];
            int step = (int)Math.Max(1, sliceValues / Math.Max(1, n * cols));
            for (long r0 = 0; r0 < rows; r0 += step)
            {
                using var scope = NewDisposeScope();
                long c = Math.Min(step, rows - r0);
                acc.Add(stack(layer.Experts.Select(w => pick(w).narrow(0, r0, c).reshape(-1)).ToArray())); // (E, c·cols)
            }
        }
        return new SimilarityMatrix(SimilarityKinds.Name(SimilarityKind.Weights), n, acc.NegativeMeanSquaredError());
    }

    /// <param name="meanInput">(H) the mean calibration input; required for <see cref="SurrogateForm.MeanInputJacobian"/>.</param>
    public static SimilarityMatrix Surrogate(MoeLayerWeights layer, SurrogateForm form, Tensor? meanInput = null, int sliceValues = SliceValues)
    {
        if (form == SurrogateForm.MeanInputJacobian && meanInput is null)
            throw new MoePruneException("surrogate: the mean-input Jacobian needs the layer's calibration inputs");
        int n = layer.NumExperts, h = layer.HiddenSize;
        var acc = new PairwiseDistance(n);
        int step = Math.Max(1, sliceValues / Math.Max(1, n * h));
        for (int r0 = 0; r0 < h; r0 += step)
        {
            using var scope = NewDisposeScope();
            int c = Math.Min(step, h - r0);
            acc.Add(stack(layer.Experts.Select(w => SurrogateRows(w, form, meanInput, r0, c).reshape(-1)).ToArray())); // (E, c·H)
        }
        return new SimilarityMatrix(SimilarityKinds.Name(SimilarityKind.Surrogate), n, acc.NegativeMeanSquaredError());
    }

    /// <summary>Rows [start, start + count) of expert <paramref name="w"/>'s surrogate Ŵ: (count, H), fp32 (fp64 for fp64 weights).</summary>
    public static Tensor SurrogateRows(ExpertWeights w, SurrogateForm form, Tensor? meanInput, int start, int count)
    {
        using var scope = NewDisposeScope();
        var dtype = w.GateProj.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var gate = w.GateProj.to(dtype);                                                      // (I, H)
        var up = w.UpProj.to(dtype);                                                          // (I, H)
        Tensor inner;                                                                         // (I, H)
        if (form == SurrogateForm.DownGateUp)
            inner = gate * up;
        else
        {
            var x = meanInput!.to(dtype).reshape(-1);                                         // (H)
            var g = gate.matmul(x);                                                           // (I)
            var u = up.matmul(x);                                                             // (I)
            var sig = g.sigmoid();                                                            // (I)
            var dsilu = sig * (Scalars.Of(1) + g * (Scalars.Of(1) - sig));                                            // (I) silu′(g)
            inner = (dsilu * u).unsqueeze(1) * gate + (g * sig).unsqueeze(1) * up;           // (I, H)
        }
        var down = w.DownProj.narrow(0, start, count).to(dtype);                              // (c, I)
        return down.matmul(inner).MoveToOuterDisposeScope();                                 // (c, H)
    }
}
