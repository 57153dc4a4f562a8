using MoePrune.Quantization.Fp8;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Quantization;

/// <summary>Block FP8 (de)quantization against the numpy fixture of fp8_e4m3.py and against its own definition.</summary>
public class BlockFp8Tests(ITestOutputHelper output)
{
    [Fact]
    public void DequantizesTheNumpyBlocksBitExactly()
    {
        using var scope = NewDisposeScope();
        var cases = Fp8Fixtures.Cases();
        var ours = BlockFp8.Dequantize(cases["blocks.codes"], cases["blocks.scale_inv"], "blocks");
        double diff = (ours - cases["blocks.dequantized"]).abs().max().item<float>();
        output.WriteLine($"160x136 in 2x2 blocks of 128 (partial edges): max |ours - numpy| = {diff}");
        Assert.Equal(0.0, diff);
        Assert.True(ours.to(ScalarType.Float32).eq(cases["blocks.dequantized"]).all().item<bool>());
    }

    [Fact]
    public void QuantizesLikeNumpyWithFreshScales()
    {
        using var scope = NewDisposeScope();
        var cases = Fp8Fixtures.Cases();
        var (codes, scale) = BlockFp8.Quantize(cases["blocks.weight"], "blocks");
        long codeDiffs = codes.ne(cases["blocks.codes"]).sum().item<long>();
        double scaleDiff = (scale - cases["blocks.scale_inv"]).abs().max().item<float>();
        output.WriteLine($"codes differing from numpy: {codeDiffs} of {codes.NumberOfElements}; max |Δscale| = {scaleDiff}; " +
                         $"scales {string.Join(", ", scale.data<float>().ToArray())}");
        Assert.Equal(0, codeDiffs);
        Assert.Equal(0.0, scaleDiff);
        Assert.Equal(1f, scale[1, 1].item<float>()); // the all-zero edge block
    }

    [Fact]
    public void RequantizedMergedWeightsStayWithinOneFp8Step()
    {
        using var scope = NewDisposeScope();
        var cases = Fp8Fixtures.Cases();
        var expert = cases["blocks.dequantized"];
        var merged = (expert + expert.flip(0) * 0.5) / 1.5;                      // (160, 136) like an averaged expert
        double worst = 0;
        foreach (var (w, label) in new[] { (cases["blocks.weight"], "fixture weight"), (merged, "merged") })
        {
            var (codes, scale) = BlockFp8.Quantize(w, label);
            var back = BlockFp8.Dequantize(codes, scale, label);
            float[] wv = w.data<float>().ToArray(), bv = back.data<float>().ToArray();
            byte[] cv = codes.data<byte>().ToArray();
            float[] sv = scale.data<float>().ToArray();
            int cols = (int)w.shape[1];
            for (int i = 0; i < wv.Length; i++)
            {
                float s = sv[i / cols / 128 * (int)scale.shape[1] + i % cols / 128];
                double step = Step(cv[i]) * s;
                double ratio = Math.Abs(bv[i] - wv[i]) / step;
                worst = Math.Max(worst, ratio);
                Assert.True(ratio <= 1.0, $"{label}[{i}]: {wv[i]} -> {bv[i]}, one step {step}");
            }
        }
        output.WriteLine($"max |dequantized - weight| / (FP8 step there · scale) = {worst:F4} (round-to-nearest gives ≤ 0.5)");
        Assert.True(worst <= 0.5 + 1e-5);
    }

    [Fact]
    public void RepresentableValuesGiveTheSameBytesBack()
    {
        using var scope = NewDisposeScope();
        var cases = Fp8Fixtures.Cases();
        var again = BlockFp8.QuantizeWithScale(cases["blocks.dequantized"], cases["blocks.scale_inv"], "blocks");
        Assert.True(again.eq(cases["blocks.codes"]).all().item<bool>(), "stored scales: codes must round-trip");

        // Fresh scales reproduce the bytes when every block reaches ±448 and its scale is a power of two.
        var gen = new Random(7);
        var codes = new byte[130 * 129];
        for (int i = 0; i < codes.Length; i++) codes[i] = (byte)gen.Next(0, 0x7E + 1 + 0x80 * gen.Next(0, 2));
        for (int i = 0; i < codes.Length; i++) if ((codes[i] & 0x7F) == 0x7F) codes[i] = 0x7E;
        foreach (var (r, c) in new[] { (0, 0), (0, 128), (128, 0), (128, 128) }) codes[r * 129 + c] = 0xFE;
        var q = tensor(codes, [130, 129], ScalarType.Byte);
        var s = tensor(new float[] { 0.25f, 1f / 64, 8f, 1f / 1024 }, [2, 2], ScalarType.Float32);
        var (q2, s2) = BlockFp8.Quantize(BlockFp8.Dequantize(q, s, "pow2"), "pow2");
        output.WriteLine($"130x129 power-of-two blocks: codes equal {q2.eq(q).all().item<bool>()}, scales equal {s2.eq(s).all().item<bool>()}");
        Assert.True(q2.eq(q).all().item<bool>() && s2.eq(s).all().item<bool>());
    }

    [Fact]
    public void PowerOfTwoScalesCoverTheBlockMaximum()
    {
        using var scope = NewDisposeScope();
        var cases = Fp8Fixtures.Cases();
        var (codes, scale) = BlockFp8.Quantize(cases["blocks.weight"], "blocks", Fp8ScaleFormat.PowerOfTwo);
        foreach (float v in scale.data<float>().ToArray())
            Assert.True(BitConverter.SingleToUInt32Bits(v) % (1u << 23) == 0, $"{v} is not a power of two");
        Assert.True(codes.bitwise_and(0x7F).lt(0x7F).all().item<bool>()); // no NaN code
        var back = BlockFp8.Dequantize(codes, scale, "blocks");
        double rel = ((back - cases["blocks.weight"]).abs().max() / cases["blocks.weight"].abs().max()).item<float>();
        output.WriteLine($"ue8m0 scales {string.Join(", ", scale.data<float>().ToArray())}; max relative error {rel:E2}");
        Assert.True(rel < 0.07);
    }

    [Fact]
    public void BadShapesAndNonFiniteWeightsAreRefusedByName()
    {
        using var scope = NewDisposeScope();
        var codes = zeros([160, 136], ScalarType.Byte);
        var e1 = Assert.Throws<MoePruneException>(() => BlockFp8.Dequantize(codes, ones([1, 2]), "layers.1.mlp.experts.3.up_proj.weight"));
        Assert.Contains("layers.1.mlp.experts.3.up_proj.weight", e1.Message);
        Assert.Contains("[2, 2]", e1.Message);
        var bad = ones([4, 4]);
        bad[1, 2] = tensor(float.NaN);
        var e2 = Assert.Throws<MoePruneException>(() => BlockFp8.Quantize(bad, "merged.down_proj.weight"));
        Assert.Contains("merged.down_proj.weight", e2.Message);
        Assert.Throws<MoePruneException>(() => BlockFp8.Quantize(ones([2, 2, 2]), "w3d"));
    }

    [Fact]
    public void RepeatedCallsLeaveNoLiveTensors()
    {
        var cases = Fp8Fixtures.Cases();
        long[] live = new long[3];
        for (int i = 0; i < live.Length; i++)
        {
            using (var scope = NewDisposeScope())
            {
                var (codes, scale) = BlockFp8.Quantize(cases["blocks.weight"], "blocks");
                BlockFp8.Dequantize(codes, scale, "blocks");
                BlockFp8.QuantizeWithScale(cases["blocks.weight"], scale, "blocks");
            }
            live[i] = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        output.WriteLine($"live tensors after each round: {string.Join(", ", live)}");
        Assert.Equal(live[0], live[^1]);
        foreach (var t in cases.Values) t.Dispose();
    }

    /// <summary>The spacing of the e4m3 grid at a code's magnitude (the larger of its two neighbouring gaps).</summary>
    static double Step(byte code)
    {
        int m = code & 0x7F;
        double here = Float8E4M3.ToSingle((byte)m);
        double up = m < 0x7E ? Float8E4M3.ToSingle((byte)(m + 1)) - here : 0;
        double down = m > 0 ? here - Float8E4M3.ToSingle((byte)(m - 1)) : 0;
        return Math.Max(up, down);
    }
}
