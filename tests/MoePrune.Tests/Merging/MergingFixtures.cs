using MoePrune.Merging;
using MoePrune.Native;
using static TorchSharp.torch;

namespace MoePrune.Tests.Merging;

/// <summary>Deterministic random tensors (System.Random, not torch's global generator) and naive references in fp64.</summary>
internal static class MergingFixtures
{
    public static double[] Doubles(Random rng, int count, double scale = 1) =>
        Enumerable.Range(0, count).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray();

    /// <summary>A tensor of uniform values in [−scale, scale], shape as given, fp32 unless asked.</summary>
    public static Tensor Random(Random rng, long[] shape, double scale = 1, ScalarType dtype = ScalarType.Float32)
    {
        TorchNative.EnsureLoaded();
        int count = (int)shape.Aggregate(1L, (a, b) => a * b);
        return tensor(Doubles(rng, count, scale), shape).to(dtype);
    }

    public static ExpertWeights RandomExpert(Random rng, int hidden, int intermediate, double scale = 0.5, ScalarType dtype = ScalarType.Float32) =>
        new(Random(rng, [intermediate, hidden], scale, dtype), Random(rng, [intermediate, hidden], scale, dtype), Random(rng, [hidden, intermediate], scale, dtype));

    public static MoeLayerWeights RandomLayer(Random rng, int experts, int hidden, int intermediate, ScalarType dtype = ScalarType.Float32) =>
        new(Random(rng, [experts, hidden], 1, dtype), Enumerable.Range(0, experts).Select(_ => RandomExpert(rng, hidden, intermediate, 0.5, dtype)).ToArray());

    /// <summary>Row-major fp64 values of a tensor.</summary>
    public static double[] Values(Tensor t) => t.to(ScalarType.Float64).contiguous().data<double>().ToArray();

    /// <summary>(rows, cols) fp64 matrix from a 2-D tensor.</summary>
    public static double[,] Matrix(Tensor t)
    {
        var v = Values(t);
        int r = (int)t.shape[0], c = (int)t.shape[1];
        var m = new double[r, c];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) m[i, j] = v[i * c + j];
        return m;
    }

    public static double Silu(double z) => z / (1 + Math.Exp(-z));

    /// <summary>Naive SwiGLU in fp64 for one input row: Σ_i down[h, i] · silu(gate[i]·x) · (up[i]·x).</summary>
    public static double[] ExpertForward(double[,] gate, double[,] up, double[,] down, double[] x)
    {
        int inter = gate.GetLength(0), hidden = gate.GetLength(1);
        var act = new double[inter];
        for (int i = 0; i < inter; i++)
        {
            double g = 0, u = 0;
            for (int h = 0; h < hidden; h++) { g += gate[i, h] * x[h]; u += up[i, h] * x[h]; }
            act[i] = Silu(g) * u;
        }
        var y = new double[hidden];
        for (int h = 0; h < hidden; h++)
            for (int i = 0; i < inter; i++) y[h] += down[h, i] * act[i];
        return y;
    }

    public static double MaxAbsDiff(double[] a, double[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).DefaultIfEmpty(0).Max();
}
