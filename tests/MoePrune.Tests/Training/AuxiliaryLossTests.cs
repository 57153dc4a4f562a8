using MoePrune.Native;
using MoePrune.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Training;

public sealed class AuxiliaryLossTests(ITestOutputHelper output)
{
    /// <summary>Naive load_balancing_loss_func: all layers' rows pooled; f over top-k slots, P the mean probability.</summary>
    static double Naive(float[][][] layers, int topK, bool[]? rowMask)
    {
        int e = layers[0][0].Length;
        var f = new double[topK, e];
        var prob = new double[e];
        double rows = 0;
        foreach (var layer in layers)
            for (int n = 0; n < layer.Length; n++)
            {
                if (rowMask is not null && !rowMask[n]) continue;
                double max = layer[n].Max();
                var p = layer[n].Select(x => Math.Exp(x - max)).ToArray();
                double sum = p.Sum();
                for (int j = 0; j < e; j++) { p[j] /= sum; prob[j] += p[j]; }
                var ranked = Enumerable.Range(0, e).OrderByDescending(j => p[j]).ThenBy(j => j).Take(topK).ToArray();
                for (int k = 0; k < topK; k++) f[k, ranked[k]] += 1;
                rows++;
            }
        double loss = 0;
        for (int k = 0; k < topK; k++)
            for (int j = 0; j < e; j++) loss += f[k, j] / rows * (prob[j] / rows);
        return loss * e;
    }

    static float[][][] RandomLogits(int layers, int rows, int experts, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, layers).Select(_ => Enumerable.Range(0, rows)
            .Select(_ => Enumerable.Range(0, experts).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray()).ToArray()).ToArray();
    }

    static Tensor ToTensor(float[][] layer) => tensor(layer.SelectMany(r => r).ToArray(), [layer.Length, layer[0].Length]);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoadBalancingLossEqualsNaiveLoops(bool masked)
    {
        TorchNative.EnsureLoaded();
        var layers = RandomLogits(layers: 3, rows: 7, experts: 5, seed: 11);
        bool[]? mask = masked ? [true, false, true, true, false, true, true] : null;
        var tensors = layers.Select(ToTensor).ToList();
        using var maskTensor = mask is null ? null : tensor(mask);
        using var loss = LoadBalancingLoss.Compute(tensors, topK: 2, maskTensor);
        double got = loss.item<float>(), want = Naive(layers, 2, mask);
        output.WriteLine($"aux loss {got} naive {want} diff {Math.Abs(got - want):E2}");
        Assert.True(Math.Abs(got - want) < 1e-5, $"diff {Math.Abs(got - want)}");
    }

    [Fact]
    public void BalancedRouterGivesTopK()
    {
        TorchNative.EnsureLoaded();
        using var uniform = zeros(8, 4);                                                 // (N, E): every expert p = 1/4
        using var loss = LoadBalancingLoss.Compute([uniform], topK: 2);
        // f sums to 1 per top-k slot, P = 1/4 everywhere: E · Σ_k Σ_e f_{k,e}/4 = 4 · 2/4 = 2.
        Assert.Equal(2.0, loss.item<float>(), 5);
    }

    [Fact]
    public void PerLayerLossIsTheMeanOfEachLayersNaiveLossAndSeesADeadExpertTheConcatenatedLossHides()
    {
        TorchNative.EnsureLoaded();
        var layers = RandomLogits(layers: 3, rows: 9, experts: 4, seed: 3);
        using var loss = LoadBalancingLoss.ComputePerLayer(layers.Select(ToTensor).ToList(), topK: 1);
        double want = layers.Select(l => Naive([l], 1, null)).Average();
        output.WriteLine($"per-layer aux {loss.item<float>()} naive {want}");
        Assert.Equal(want, loss.item<float>(), 5);

        // Layer 0 sends every row to expert 0, layer 1 every row to expert 1 (two experts): pooled, the two share
        // the load evenly; per layer, each layer is collapsed onto one expert.
        float[] Row(int hot) => Enumerable.Range(0, 2).Select(e => e == hot ? 8f : 0f).ToArray();
        float[][][] skewed = [Enumerable.Repeat(0, 6).Select(_ => Row(0)).ToArray(), Enumerable.Repeat(0, 6).Select(_ => Row(1)).ToArray()];
        using var pooled = LoadBalancingLoss.Compute(skewed.Select(ToTensor).ToList(), topK: 1);
        using var perLayer = LoadBalancingLoss.ComputePerLayer(skewed.Select(ToTensor).ToList(), topK: 1);
        output.WriteLine($"two collapsed layers: pooled {pooled.item<float>()} per-layer {perLayer.item<float>()}");
        Assert.InRange(pooled.item<float>(), 0.99, 1.01);                                 // looks balanced (minimum 1)
        Assert.InRange(perLayer.item<float>(), 1.99, 2.0);                                // 2 · p_hot ≈ 2: collapsed
    }

    [Fact]
    public void RouterZLossEqualsNaiveLogSumExpSquared()
    {
        TorchNative.EnsureLoaded();
        var layers = RandomLogits(layers: 2, rows: 4, experts: 3, seed: 5);
        double want = layers.SelectMany(l => l).Select(r =>
        {
            double lse = Math.Log(r.Sum(x => Math.Exp(x)));
            return lse * lse;
        }).Average();
        using var z = RouterZLoss.Compute(layers.Select(ToTensor).ToList());
        output.WriteLine($"z loss {z.item<float>()} naive {want}");
        Assert.Equal(want, z.item<float>(), 5);
    }
}
