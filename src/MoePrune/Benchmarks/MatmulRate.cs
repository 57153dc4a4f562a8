using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Benchmarks;

/// <summary>
/// This machine's dense matmul rate for a given shape and dtype: the median of <c>reps</c> timed
/// matmuls after warm-up, with the current torch thread count. It is the yardstick that forward and
/// training throughput are compared against ("ratio to the matmul rate").
/// </summary>
public static class MatmulRate
{
    /// <summary>GFLOP/s of (m × k)·(k × n) in <paramref name="dtype"/>.</summary>
    public static double Measure(long m, long k, long n, ScalarType dtype, int reps = 5, int warmup = 2)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.inference_mode();
        var a = torch.randn(m, k).to(dtype);           // (m, k)
        var b = torch.randn(k, n).to(dtype);           // (k, n)
        for (int i = 0; i < warmup; i++) torch.matmul(a, b).Dispose();
        var seconds = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            var sw = Stopwatch.StartNew();
            using var c = torch.matmul(a, b);          // (m, n)
            seconds[i] = sw.Elapsed.TotalSeconds;
        }
        Array.Sort(seconds);
        double median = seconds[reps / 2];
        return 2.0 * m * k * n / median / 1e9;
    }
}
