using MoePrune.Quantization.Fp8;
using MoePrune.Tests.Models;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Quantization;

/// <summary>
/// <see cref="Fp8Weights"/>: a weight dequantized into bf16 or fp32 re-encodes with its recorded scale to exactly the
/// stored codes (what keeps untouched FP8 tensors byte-identical on export); a weight changed since gets fresh scales.
/// </summary>
public class Fp8WeightsTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float32)]
    public void UnchangedWeightsReEncodeToTheStoredCodesAndScale(ScalarType dtype)
    {
        _ = Fp8Fixtures.Dir;                                                              // loads libtorch
        using var scope = NewDisposeScope();
        var config = new Fp8QuantizationConfig(128, 128, Fp8ScaleFormat.Float32);
        var original = randn(300, 200, generator: new TorchSharp.torch.Generator(5)) * 0.02; // (300, 200): partial edge blocks
        original[7, 9] = tensor(0f);                                                      // zero and tiny values take the subnormal codes
        original[8, 9] = tensor(1e-7f);
        var (codes, scale) = BlockFp8.Quantize(original, "w");                            // stored codes (uint8) and scale_inv
        var loaded = BlockFp8.Dequantize(codes, scale, "w").to(dtype);                    // what the loader puts in the parameter
        using var fp8 = new Fp8Weights(config);
        fp8.Add("w", scale);
        var (again, scaleAgain) = fp8.Encode("w", loaded);
        Assert.True(again.equal(codes).all().item<bool>(), "re-encoding a loaded weight must give back the stored codes");
        Assert.True(scaleAgain.equal(scale).all().item<bool>());
        output.WriteLine($"{dtype}: {codes.numel()} codes re-encoded identically");
    }

    [Fact]
    public void ChangedWeightsGetFreshScales()
    {
        _ = Fp8Fixtures.Dir;
        using var scope = NewDisposeScope();
        var config = new Fp8QuantizationConfig(128, 128, Fp8ScaleFormat.Float32);
        var original = randn(130, 140, generator: new TorchSharp.torch.Generator(6)) * 0.02; // (130, 140)
        var (codes, scale) = BlockFp8.Quantize(original, "w");
        using var fp8 = new Fp8Weights(config);
        fp8.Add("w", scale);
        var changed = BlockFp8.Dequantize(codes, scale, "w") * 3;                        // beyond the recorded range: would saturate
        var (fresh, freshScale) = fp8.Encode("w", changed);
        var expectedScale = changed.narrow(0, 0, 128).narrow(1, 0, 128).abs().max() / 448f; // block (0, 0) amax/448, computed here
        Assert.Equal(expectedScale.item<float>(), freshScale[0, 0].item<float>());
        double diff = ModelFixtures.MaxAbsDiff(BlockFp8.Dequantize(fresh, freshScale, "w"), changed);
        output.WriteLine($"changed weight: fresh scale {freshScale[0, 0].item<float>():E3} (recorded {scale[0, 0].item<float>():E3}); max |Δ| {diff:E2}");
        Assert.True(diff <= changed.abs().max().item<float>() / 16, "fresh scales must represent the changed weight");
        Assert.Throws<KeyNotFoundException>(() => fp8.ScaleInv("other"));
    }
}
