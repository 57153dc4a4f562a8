using TorchSharp;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Merging.Similarity;

/// <summary>The m × m kernel matrix of one expert's outputs on one chunk.</summary>
public static class KernelMatrix
{
    /// <summary>
    /// (m, H) → (m, m) in <paramref name="dtype"/>. Linear: Z Zᵀ. RBF: exp(−D²/(2σ²)) with D² the squared
    /// Euclidean distances and σ² their median over the m(m−1)/2 pairs a &lt; b (the lower median when the
    /// count is even); when that median is 0 the mean of those distances is used, and when all outputs are
    /// equal the kernel is all ones (such an expert has zero HSIC with every other).
    /// </summary>
    public static Tensor Compute(Tensor outputs, CkaKernel kernel, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var z = outputs.to(dtype);                                                            // (m, H)
        var gram = z.matmul(z.t());                                                           // (m, m)
        if (kernel == CkaKernel.Linear) return gram.MoveToOuterDisposeScope();
        var norms = gram.diagonal();                                                          // (m)
        long m = z.shape[0];
        var offDiagonal = Scalars.Of(1) - eye(m, dtype: dtype, device: z.device);                         // (m, m)
        var d2 = (norms.unsqueeze(1) + norms.unsqueeze(0) - Scalars.Of(2) * gram).clamp_min(Scalars.Of(0)) * offDiagonal; // (m, m)
        var upper = ones(m, m, ScalarType.Bool, z.device).triu(1);                                     // (m, m)
        var pairs = d2.masked_select(upper);                                                  // (m(m−1)/2)
        double sigma2 = pairs.numel() == 0 ? 0 : pairs.median().ToDouble();
        if (sigma2 <= 0 && pairs.numel() > 0) sigma2 = pairs.mean().ToDouble();
        if (sigma2 <= 0) return ones(m, m, dtype, z.device).MoveToOuterDisposeScope();        // (m, m)
        return d2.div(Scalars.Of(-2 * sigma2)).exp_().MoveToOuterDisposeScope();                          // (m, m)
    }
}
