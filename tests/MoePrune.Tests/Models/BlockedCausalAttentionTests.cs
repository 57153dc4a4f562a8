using MoePrune.Models;
using MoePrune.Native;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Models;

/// <summary>
/// Blocked causal attention against a naive float64 loop (each query row: softmax over the keys at or before it,
/// query head h reading KV head h / (nh / kv)), in fp32 with block sizes that do and do not divide T, and in bf16
/// against the same loop and against libtorch's SDPA.
/// </summary>
public sealed class BlockedCausalAttentionTests(ITestOutputHelper output)
{
    static double[,,,] Naive(Tensor q, Tensor k, Tensor v)
    {
        long b = q.shape[0], nh = q.shape[1], t = q.shape[2], hd = q.shape[3], kv = k.shape[1];
        var Q = q.to(ScalarType.Float64).data<double>().ToArray();
        var K = k.to(ScalarType.Float64).data<double>().ToArray();
        var V = v.to(ScalarType.Float64).data<double>().ToArray();
        var o = new double[b, nh, t, hd];
        for (long bi = 0; bi < b; bi++)
            for (long h = 0; h < nh; h++)
            {
                long g = h / (nh / kv);
                for (long i = 0; i < t; i++)
                {
                    var s = new double[i + 1];
                    for (long j = 0; j <= i; j++)
                    {
                        double dot = 0;
                        for (long d = 0; d < hd; d++) dot += Q[((bi * nh + h) * t + i) * hd + d] * K[((bi * kv + g) * t + j) * hd + d];
                        s[j] = dot / Math.Sqrt(hd);
                    }
                    double max = s.Max(), sum = s.Sum(x => Math.Exp(x - max));
                    for (long j = 0; j <= i; j++)
                        for (long d = 0; d < hd; d++) o[bi, h, i, d] += Math.Exp(s[j] - max) / sum * V[((bi * kv + g) * t + j) * hd + d];
                }
            }
        return o;
    }

    static double MaxDiff(Tensor got, double[,,,] want)
    {
        var g = got.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        var w = want.Cast<double>().ToArray();
        return g.Zip(w, (a, c) => Math.Abs(a - c)).Max();
    }

    [Theory]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(128)]
    public void Fp32EqualsNaiveLoop(int block)
    {
        TorchNative.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var gen = new Generator(3);
        var q = randn([2, 4, 37, 8], generator: gen);                                     // (B, nh, T, hd)
        var k = randn([2, 2, 37, 8], generator: gen);                                     // (B, kv, T, hd)
        var v = randn([2, 2, 37, 8], generator: gen);
        double diff = MaxDiff(BlockedCausalAttention.Forward(q, k, v, block), Naive(q, k, v));
        output.WriteLine($"block {block}: fp32 max abs diff vs float64 loop {diff:E2}");
        Assert.True(diff < 1e-5, $"diff {diff}");
    }

    [Fact]
    public void Bf16IsAsCloseToTheNaiveLoopAsSdpa()
    {
        TorchNative.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var gen = new Generator(5);
        var q = randn([1, 8, 300, 32], generator: gen).to(ScalarType.BFloat16);           // (B, nh, T, hd)
        var k = randn([1, 4, 300, 32], generator: gen).to(ScalarType.BFloat16);           // (B, kv, T, hd)
        var v = randn([1, 4, 300, 32], generator: gen).to(ScalarType.BFloat16);
        Assert.True(BlockedCausalAttention.Applies(q));
        var want = Naive(q, k, v);
        double blocked = MaxDiff(BlockedCausalAttention.Forward(q, k, v), want);
        var rep = (Tensor x) => x.unsqueeze(2).expand(1, 4, 2, 300, 32).reshape(1, 8, 300, 32);
        double sdpa = MaxDiff(nn.functional.scaled_dot_product_attention(q, rep(k), rep(v), null, 0.0, true), want);
        output.WriteLine($"bf16 max abs diff vs float64 loop: blocked {blocked:E2}, SDPA {sdpa:E2}");
        Assert.True(blocked < 3e-2 && blocked < 2 * sdpa + 1e-3, $"blocked {blocked}, sdpa {sdpa}");
    }

    [Fact]
    public void DoesNotApplyUnderAutogradOrInFp32()
    {
        TorchNative.EnsureLoaded();
        using var x = randn(1, 2, 4, 8);
        Assert.False(BlockedCausalAttention.Applies(x));
        using var y = randn(1, 2, 4, 8).to(ScalarType.BFloat16).requires_grad_();
        Assert.False(BlockedCausalAttention.Applies(y));
    }
}
