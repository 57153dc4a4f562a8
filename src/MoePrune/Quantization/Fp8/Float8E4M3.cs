namespace MoePrune.Quantization.Fp8;

/// <summary>
/// The float8_e4m3fn format of DeepSeek-V3 / Kimi-K2 checkpoints (safetensors "F8_E4M3", torch.float8_e4m3fn):
/// 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits, no infinities, NaN at 0x7F and 0xFF, largest finite
/// magnitude 0x7E = 448, exponent field 0 subnormal (m/8 · 2^-6, smallest 2^-9).
/// Encoding rounds to nearest with ties to even (the even mantissa), saturates magnitudes of 448 and above
/// (infinities included) to ±448, keeps the sign of zero, and refuses NaN.
/// </summary>
public static class Float8E4M3
{
    /// <summary>The largest finite magnitude.</summary>
    public const float MaxFinite = 448f;

    const uint Float448Bits = 0x43E00000;   // 448f
    const int MinNormalFloatExponent = 121; // biased float32 exponent of 2^-6, the smallest e4m3 normal

    static readonly float[] Table = BuildTable();

    /// <summary>The value of every code (NaN for 0x7F and 0xFF), indexed by code.</summary>
    public static ReadOnlySpan<float> DecodeTable => Table;

    /// <summary>The value of one code.</summary>
    public static float ToSingle(byte code)
    {
        int exponent = (code >> 3) & 0xF, mantissa = code & 0x7;
        if (exponent == 0xF && mantissa == 0x7) return float.NaN;
        float magnitude = exponent == 0
            ? MathF.ScaleB(mantissa, -9)                // subnormal: m · 2^-9
            : MathF.ScaleB(8 + mantissa, exponent - 10); // (1 + m/8) · 2^(e-7)
        return (code & 0x80) != 0 ? -magnitude : magnitude;
    }

    /// <summary>The nearest code (ties to even), saturating at ±448; throws for NaN.</summary>
    public static byte FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint sign = (bits >> 24) & 0x80;
        uint magnitude = bits & 0x7FFFFFFF;
        if (magnitude > 0x7F800000) throw new ArgumentException("NaN has no float8_e4m3fn encoding", nameof(value));
        if (magnitude >= Float448Bits) return (byte)(sign | 0x7E);

        int floatExponent = (int)(magnitude >> 23);
        if (floatExponent < MinNormalFloatExponent)
        {
            // Below 2^-6 the grid is m · 2^-9 (m = 0..8; m = 8 is the smallest normal, code 0x08).
            // Scaling by 2^9 is exact, so this is one correctly rounded step.
            float steps = MathF.Round(MathF.ScaleB(BitConverter.UInt32BitsToSingle(magnitude), 9), MidpointRounding.ToEven);
            return (byte)(sign | (uint)steps);
        }

        uint exponent = (uint)(floatExponent - 120);   // e4m3 bias 7 vs float32 bias 127
        uint mantissa = magnitude & 0x7FFFFF;
        uint kept = mantissa >> 20;                    // the top 3 of 23 mantissa bits
        uint roundBit = (mantissa >> 19) & 1;
        uint sticky = mantissa & 0x7FFFF;
        if (roundBit == 1 && (sticky != 0 || (kept & 1) == 1)) kept++;
        if (kept == 8) { kept = 0; exponent++; }
        if (exponent > 15 || (exponent == 15 && kept == 7)) return (byte)(sign | 0x7E); // unreachable below 448
        return (byte)(sign | (exponent << 3) | kept);
    }

    /// <summary>Decodes <paramref name="codes"/> into <paramref name="values"/> (same length).</summary>
    public static void Decode(ReadOnlySpan<byte> codes, Span<float> values)
    {
        if (values.Length != codes.Length) throw new ArgumentException("codes and values differ in length");
        for (int i = 0; i < codes.Length; i++) values[i] = Table[codes[i]];
    }

    /// <summary>Encodes <paramref name="values"/> into <paramref name="codes"/> (same length); throws for NaN.</summary>
    public static void Encode(ReadOnlySpan<float> values, Span<byte> codes)
    {
        if (values.Length != codes.Length) throw new ArgumentException("codes and values differ in length");
        for (int i = 0; i < values.Length; i++) codes[i] = FromSingle(values[i]);
    }

    static float[] BuildTable()
    {
        var table = new float[256];
        for (int code = 0; code < 256; code++) table[code] = ToSingle((byte)code);
        return table;
    }
}
