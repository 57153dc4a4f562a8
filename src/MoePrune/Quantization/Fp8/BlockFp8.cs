using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Quantization.Fp8;

/// <summary>How a fresh block scale is rounded.</summary>
public enum Fp8ScaleFormat
{
    /// <summary>scale_inv = amax / 448 in float32 (DeepSeek-V3, Kimi-K2).</summary>
    Float32,
    /// <summary>scale_inv = 2^ceil(log2(amax / 448)) (quantization_config.scale_fmt "ue8m0").</summary>
    PowerOfTwo,
}

/// <summary>
/// Block-scaled FP8 weights as DeepSeek-V3 / Kimi-K2 ship them: a 2-D weight W (out, in) is stored as
/// float8_e4m3fn codes Q (out, in) and float32 <c>weight_scale_inv</c> S (⌈out/b0⌉, ⌈in/b1⌉), usually b0 = b1 = 128,
/// with W[r, c] = decode(Q[r, c]) · S[r / b0, c / b1] (one float32 product; edge blocks are partial).
/// <see cref="Quantize"/> makes fresh scales: S = amax(|W_block|) / 448 in float32 (1 for an all-zero block;
/// rounded up to a power of two for <see cref="Fp8ScaleFormat.PowerOfTwo"/>) and Q = encode(W / S) with the
/// float32 quotient rounded to nearest-even and saturated at ±448 (<see cref="Float8E4M3"/>).
/// </summary>
public static class BlockFp8
{
    /// <summary>DeepSeek-V3's block edge.</summary>
    public const int DefaultBlock = 128;

    /// <summary>The shape of the scale tensor of a (rows, cols) weight.</summary>
    public static long[] ScaleShape(long rows, long cols, int blockRows = DefaultBlock, int blockCols = DefaultBlock) =>
        [(rows + blockRows - 1) / blockRows, (cols + blockCols - 1) / blockCols];

    /// <summary>
    /// Float32 (out, in) weight from uint8 codes (out, in) and float32 scale_inv; <paramref name="name"/> names
    /// the tensor in errors.
    /// </summary>
    public static Tensor Dequantize(Tensor codes, Tensor scaleInv, string name,
                                    int blockRows = DefaultBlock, int blockCols = DefaultBlock)
    {
        var (rows, cols) = CheckPair(codes, scaleInv, name, blockRows, blockCols);
        using var scope = NewDisposeScope();
        var q = codes.contiguous().cpu();                                       // (R, C) uint8
        float[] scale = Values(scaleInv);
        var output = empty([rows, cols], ScalarType.Float32);                   // (R, C)
        ReadOnlySpan<byte> src = q.bytes;
        Span<float> dst = MemoryMarshal.Cast<byte, float>(output.bytes);
        var table = Float8E4M3.DecodeTable;
        int scaleCols = (int)ScaleShape(rows, cols, blockRows, blockCols)[1];
        for (int r = 0; r < rows; r++)
        {
            int rowStart = r * cols, scaleRow = r / blockRows * scaleCols;
            for (int c0 = 0, block = 0; c0 < cols; c0 += blockCols, block++)
            {
                float s = scale[scaleRow + block];
                int end = Math.Min(c0 + blockCols, cols);
                for (int c = c0; c < end; c++) dst[rowStart + c] = table[src[rowStart + c]] * s;
            }
        }
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Codes (out, in) uint8 and fresh float32 scale_inv for a 2-D floating weight; throws (naming
    /// <paramref name="name"/>) for NaN or infinite weights.
    /// </summary>
    public static (Tensor Codes, Tensor ScaleInv) Quantize(Tensor weight, string name,
                                                          Fp8ScaleFormat format = Fp8ScaleFormat.Float32,
                                                          int blockRows = DefaultBlock, int blockCols = DefaultBlock)
    {
        var (rows, cols) = Check2D(weight, name);
        float[] w = Values(weight);
        var shape = ScaleShape(rows, cols, blockRows, blockCols);
        int scaleCols = (int)shape[1];
        var scale = new float[shape[0] * shape[1]];                             // block amax first
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int b = r / blockRows * scaleCols + c / blockCols;
                scale[b] = MathF.Max(scale[b], MathF.Abs(w[r * cols + c]));
            }
        for (int b = 0; b < scale.Length; b++)
        {
            if (!float.IsFinite(scale[b]))   // MathF.Max propagates NaN
                throw new MoePruneException($"{name}: non-finite weights cannot be quantized to FP8");
            scale[b] = FreshScale(scale[b], format);
        }
        return (EncodeWith(w, rows, cols, scale, blockRows, blockCols), tensor(scale, shape, ScalarType.Float32));
    }

    /// <summary>Codes for a weight under given float32 scales (the inverse of <see cref="Dequantize"/> where exact).</summary>
    public static Tensor QuantizeWithScale(Tensor weight, Tensor scaleInv, string name,
                                           int blockRows = DefaultBlock, int blockCols = DefaultBlock)
    {
        var (rows, cols) = Check2D(weight, name);
        var expected = ScaleShape(rows, cols, blockRows, blockCols);
        if (!scaleInv.shape.SequenceEqual(expected))
            throw new MoePruneException($"{name}: weight_scale_inv has shape [{string.Join(", ", scaleInv.shape)}], expected [{string.Join(", ", expected)}]");
        return EncodeWith(Values(weight), rows, cols, Values(scaleInv), blockRows, blockCols);
    }

    /// <summary>amax / 448 in float32 (1 for an all-zero block), or the next power of two at or above it.</summary>
    public static float FreshScale(float amax, Fp8ScaleFormat format)
    {
        if (amax == 0f) return 1f;
        float s = amax / Float8E4M3.MaxFinite;
        if (format == Fp8ScaleFormat.Float32) return s;
        int exponent = (int)Math.Ceiling(Math.Log2(s));
        float p = MathF.ScaleB(1f, exponent);
        return p < s ? p * 2f : p; // guard Log2 rounding
    }

    static Tensor EncodeWith(float[] w, int rows, int cols, float[] scale, int blockRows, int blockCols)
    {
        var codes = new byte[w.Length];
        int scaleCols = (cols + blockCols - 1) / blockCols;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                codes[i] = Float8E4M3.FromSingle(w[i] / scale[r / blockRows * scaleCols + c / blockCols]);
            }
        return tensor(codes, [rows, cols], ScalarType.Byte);
    }

    /// <summary>The elements of a tensor as float32, row-major.</summary>
    static float[] Values(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
    }

    static (int Rows, int Cols) Check2D(Tensor weight, string name)
    {
        if (weight.dim() != 2)
            throw new MoePruneException($"{name}: FP8 block quantization needs a 2-D weight, got shape [{string.Join(", ", weight.shape)}]");
        if (!weight.is_floating_point())
            throw new MoePruneException($"{name}: FP8 block quantization needs a floating weight, got {weight.dtype}");
        return Dims(weight.shape[0], weight.shape[1], name);
    }

    static (int Rows, int Cols) CheckPair(Tensor codes, Tensor scaleInv, string name, int blockRows, int blockCols)
    {
        if (codes.dim() != 2 || codes.dtype != ScalarType.Byte)
            throw new MoePruneException($"{name}: FP8 codes must be a 2-D byte tensor, got {codes.dtype} [{string.Join(", ", codes.shape)}]");
        var expected = ScaleShape(codes.shape[0], codes.shape[1], blockRows, blockCols);
        if (!scaleInv.shape.SequenceEqual(expected))
            throw new MoePruneException($"{name}: weight_scale_inv has shape [{string.Join(", ", scaleInv.shape)}], expected [{string.Join(", ", expected)}] for {blockRows}x{blockCols} blocks");
        return Dims(codes.shape[0], codes.shape[1], name);
    }

    static (int Rows, int Cols) Dims(long rows, long cols, string name) =>
        rows * cols <= int.MaxValue
            ? ((int)rows, (int)cols)
            : throw new MoePruneException($"{name}: {rows}x{cols} is larger than one FP8 block-quantized tensor may be here (2^31 elements)");
}
