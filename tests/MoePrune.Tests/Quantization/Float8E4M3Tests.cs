using System.Text.Json;
using MoePrune.Quantization.Fp8;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Quantization;

/// <summary>The e4m3fn codec against the numpy table and encode cases of fp8_e4m3.py and a naive nearest search.</summary>
public class Float8E4M3Tests(ITestOutputHelper output)
{
    [Fact]
    public void DecodesAll256CodesLikeTheNumpyTable()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fp8Fixtures.Dir, "e4m3fn_table.json")));
        var rows = doc.RootElement.GetProperty("codes").EnumerateArray().ToList();
        Assert.Equal(256, rows.Count);
        int nan = 0;
        foreach (var row in rows)
        {
            byte code = (byte)row.GetProperty("code").GetInt32();
            float ours = Float8E4M3.ToSingle(code);
            Assert.Equal(ours, Float8E4M3.DecodeTable[code]);
            if (row.GetProperty("float32_bits").ValueKind == JsonValueKind.Null)
            {
                Assert.True(float.IsNaN(ours), $"code 0x{code:X2} must be NaN");
                nan++;
                continue;
            }
            uint bits = row.GetProperty("float32_bits").GetUInt32();
            Assert.True(BitConverter.SingleToUInt32Bits(ours) == bits,
                $"code 0x{code:X2}: {ours} (0x{BitConverter.SingleToUInt32Bits(ours):X8}) vs numpy 0x{bits:X8}");
        }
        output.WriteLine($"256 codes bit-identical to numpy (NaN codes: {nan}); max {Float8E4M3.ToSingle(0x7E)}, min subnormal {Float8E4M3.ToSingle(0x01)}");
        Assert.Equal(2, nan);
    }

    [Fact]
    public void EncodesLikeNumpyOnEveryRoundingCase()
    {
        var cases = Fp8Fixtures.Cases();
        float[] input = cases["encode.input"].data<float>().ToArray();
        byte[] expected = cases["encode.codes"].data<byte>().ToArray();
        foreach (var t in cases.Values) t.Dispose();
        var ours = new byte[input.Length];
        Float8E4M3.Encode(input, ours);
        var wrong = Enumerable.Range(0, input.Length).Where(i => ours[i] != expected[i]).ToList();
        output.WriteLine($"{input.Length} inputs (ties, neighbours of ties, subnormals, saturation, signed zero, random): {wrong.Count} differ");
        Assert.True(wrong.Count == 0, string.Join("; ", wrong.Take(5).Select(i =>
            $"{input[i]:R} -> 0x{ours[i]:X2}, numpy 0x{expected[i]:X2}")));
    }

    [Fact]
    public void EncodesAsTheNearestValueWithTiesToEven()
    {
        var rng = new Random(19);
        int checkedCount = 0;
        for (int n = 0; n < 20_000; n++)
        {
            float x = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-12, 10)));
            if (Math.Abs(x) >= Float8E4M3.MaxFinite) continue;
            Assert.Equal(Naive(x), Float8E4M3.FromSingle(x));
            checkedCount++;
        }
        output.WriteLine($"{checkedCount} random values agree with a brute-force nearest search");
    }

    [Fact]
    public void RepresentableValuesRoundTripToTheSameByte()
    {
        for (int code = 0; code < 256; code++)
        {
            if (code is 0x7F or 0xFF) continue;
            Assert.Equal((byte)code, Float8E4M3.FromSingle(Float8E4M3.ToSingle((byte)code)));
        }
    }

    [Fact]
    public void SaturatesKeepsSignedZeroAndRefusesNaN()
    {
        Assert.Equal(0x7E, Float8E4M3.FromSingle(448f));
        Assert.Equal(0x7E, Float8E4M3.FromSingle(463.99f));
        Assert.Equal(0x7E, Float8E4M3.FromSingle(1e9f));
        Assert.Equal(0xFE, Float8E4M3.FromSingle(float.NegativeInfinity));
        Assert.Equal(0x80, Float8E4M3.FromSingle(-0f));
        Assert.Equal(0x80, Float8E4M3.FromSingle(-1e-4f));         // below half the smallest subnormal
        Assert.Equal(0x00, Float8E4M3.FromSingle(MathF.ScaleB(1f, -10)));  // exact tie between 0 and 2^-9: even
        Assert.Equal(0x02, Float8E4M3.FromSingle(MathF.ScaleB(3f, -10)));  // tie between 0x01 and 0x02: even
        Assert.Throws<ArgumentException>(() => Float8E4M3.FromSingle(float.NaN));
    }

    /// <summary>The finite code of x's sign nearest to x (ties: the even code), by search over the decoded values.</summary>
    static byte Naive(float x)
    {
        int sign = float.IsNegative(x) ? 0x80 : 0;
        byte best = 0;
        double bestDistance = double.MaxValue;
        for (int magnitude = 0; magnitude <= 0x7E; magnitude++)
        {
            byte code = (byte)(sign | magnitude);
            double d = Math.Abs(Float8E4M3.ToSingle(code) - (double)x);
            if (d < bestDistance || (d == bestDistance && magnitude % 2 == 0)) (best, bestDistance) = (code, d);
        }
        return best;
    }
}
