using MoePrune.Benchmarks;
using MoePrune.Native;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Benchmarks;

/// <summary>The benchmark's FLOP count against a hand computation, and a smoke run of each benchmark at a toy shape.</summary>
public class BenchmarkTests(ITestOutputHelper output)
{
    [Fact]
    public void FlopCountMatchesHandComputation()
    {
        // Mixtral-8x7B, T = 1024: attention q,o 4096·4096 each, k,v 4096·1024 each → 41 943 040 params;
        // experts 2·3·4096·14336 = 352 321 536; router 8·4096 = 32 768; per token ×2, plus 2·T²·H.
        double expected = 2.0 * 1024 * (41_943_040 + 352_321_536 + 32_768) + 2.0 * 1024 * 1024 * 4096;
        Assert.Equal(41_943_040, LayerShape.Mixtral8x7B.AttentionParams);
        Assert.Equal(expected, LayerShape.Mixtral8x7B.Flops(1024));
        output.WriteLine($"mixtral-8x7b layer, T=1024: {expected / 1e9:F1} GFLOP");
    }

    [Fact]
    public void DefaultShapeIsTheShippedModelsLayer()
    {
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(DefaultModelFiles.Directory(), "config.json")))!;
        var d = LayerShape.Default;
        Assert.Equal((int)config["hidden_size"]!, d.Hidden);
        Assert.Equal((int)config["num_attention_heads"]!, d.Heads);
        Assert.Equal((int)config["num_key_value_heads"]!, d.KvHeads);
        Assert.Equal((int)config["num_local_experts"]!, d.Experts);
        Assert.Equal((int)config["intermediate_size"]!, d.ExpertSize);
        Assert.Equal((int)config["num_experts_per_tok"]!, d.TopK);
        Assert.Same(d, LayerShape.Parse("default"));
        var error = Assert.Throws<MoePrune.MoePruneException>(() => LayerShape.Parse("tiny"));
        Assert.Contains("mixtral-8x7b, default, small", error.Message);
        // 2·1024·(2·192·192 + 2·192·96 + 2·3·192·256 + 8·192) + 2·1024²·192, by hand
        Assert.Equal(2.0 * 1024 * (73_728 + 36_864 + 294_912 + 1_536) + 2.0 * 1024 * 1024 * 192, d.Flops(1024));
    }

    [Fact]
    public void ToyRunsReportPositiveRates()
    {
        TorchNative.EnsureLoaded();
        var toy = new LayerShape("toy", 32, 4, 2, 4, 16, 2);
        var r = ForwardBenchmark.Run(toy, ScalarType.Float32, tokens: 16, reps: 1);
        output.WriteLine($"toy: {r.TokensPerS:F0} tokens/s, {r.Gflops:F3} GFLOP/s, matmul {r.MatmulGflops:F3}, ratio {r.Ratio:F3}");
        Assert.True(r.TokensPerS > 0 && r.Gflops > 0 && r.MatmulGflops > 0);
        var (none, noOp) = ObserverOverhead.Measure(toy, ScalarType.BFloat16, tokens: 16, rounds: 1);
        Assert.True(none > 0 && noOp > 0);
        Assert.True(LoadMemory.StatusBytes("VmRSS") > 0);
    }
}
