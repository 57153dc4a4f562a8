using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>Global-norm gradient clipping as <c>torch.nn.utils.clip_grad_norm_</c> (scale = max / (norm + 1e-6), at most 1).</summary>
public static class GradientClipping
{
    /// <summary>Scales all gradients in place when their global L2 norm exceeds <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public static double ClipGlobalNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToList();
        if (grads.Count == 0) return 0;
        // g·g rather than square(): square() passes an implicit Scalar 2 that the finalizer may free mid-call (dotnet/TorchSharp#1434).
        var squares = stack(grads.Select(g => g.to(ScalarType.Float32)).Select(g => g.mul(g).sum()).ToArray()); // (P) fp32
        double norm = Math.Sqrt(squares.sum().to(ScalarType.Float64).item<double>());
        if (maxNorm > 0)
        {
            double scale = maxNorm / (norm + 1e-6);
            using var factor = scale.ToScalar();
            if (scale < 1) foreach (var g in grads) g.mul_(factor);
        }
        return norm;
    }
}
