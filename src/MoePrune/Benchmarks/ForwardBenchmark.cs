using System.Diagnostics;
using MoePrune.Models;
using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Benchmarks;

/// <summary>One benchmark row: shape, dtype, throughput, and the ratio of its GFLOP/s to the matmul rate.</summary>
public sealed record ForwardResult(string Shape, string Dtype, long Tokens, double Seconds, double TokensPerS, double Gflops, double MatmulGflops)
{
    public double Ratio => Gflops / MatmulGflops;
}

/// <summary>
/// Times the forward of ONE decoder layer (attention + sparse MoE, random weights) over T tokens in a dtype,
/// and the matmul rate of (T·k/E × H)·(H × I) in the same dtype and thread count, in the same process.
/// </summary>
public static class ForwardBenchmark
{
    public static ForwardResult Run(LayerShape shape, ScalarType dtype, long tokens, int reps = 3, int seed = 0,
                                    IReadOnlyList<IMoeObserver>? observers = null)
    {
        double matmul = MatmulRate.Measure(Math.Max(1, tokens * shape.TopK / shape.Experts), shape.Hidden, shape.ExpertSize, dtype);
        using var layer = Build(shape, dtype, seed, observers ?? []);
        double seconds = TimeForward(layer, shape, dtype, tokens, reps, seed, observers is { Count: > 0 });
        double gflops = shape.Flops(tokens) / seconds / 1e9;
        return new ForwardResult(shape.Name, DtypeNames.ToConfigName(dtype), tokens, seconds, tokens / seconds, gflops, matmul);
    }

    /// <summary>A decoder layer of the shape with N(0, 1/fan_in) weights and unit norms.</summary>
    public static DecoderLayer Build(LayerShape shape, ScalarType dtype, int seed, IReadOnlyList<IMoeObserver> observers)
    {
        var config = MoeConfig.Parse(shape.MixtralConfig(), $"benchmark shape {shape.Name}");
        var layer = new DecoderLayer(config, 0, observers, dtype, CPU);
        using var noGrad = no_grad();
        using var generator = new Generator((ulong)seed);
        foreach (var (name, p) in layer.named_parameters())
        {
            using var scope = NewDisposeScope();
            if (name.EndsWith("layernorm.weight", StringComparison.Ordinal)) p.fill_(Scalars.Of(1.0));
            else p.copy_(randn(p.shape, generator: generator) / Scalars.Of(Math.Sqrt(p.shape[^1])));  // p.shape, fp32 → dtype
        }
        layer.eval();
        return layer;
    }

    /// <summary>Median seconds of <paramref name="reps"/> forwards of (1, T, H) after one warm-up, under inference_mode.</summary>
    public static double TimeForward(DecoderLayer layer, LayerShape shape, ScalarType dtype, long tokens, int reps, int seed, bool withTokenIds)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var x = randn([1, tokens, shape.Hidden], generator: new Generator((ulong)seed + 1)).to(dtype); // (1, T, H)
        using var positions = new PositionEmbeddings(tokens, CPU);                                     // RoPE tables made once, in the warm-up
        var tokenIds = withTokenIds ? arange(Scalars.Of(tokens), ScalarType.Int64) : null;                         // (T)
        var input = new DecoderLayerInput(x, positions, null, null, tokenIds);
        var seconds = new double[reps + 1];                                                           // [0] is the warm-up
        for (int i = 0; i <= reps; i++)
        {
            using var step = NewDisposeScope();
            var sw = Stopwatch.StartNew();
            layer.forward(input);                                                                     // (1, T, H), freed by step
            seconds[i] = sw.Elapsed.TotalSeconds;
        }
        seconds = seconds[1..];
        Array.Sort(seconds);
        return seconds[reps / 2];
    }
}
