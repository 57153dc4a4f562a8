using TorchSharp;

namespace MoePrune.IO;

/// <summary>
/// The element types a safetensors file may hold that MoePrune reads and writes. U64 has no TorchSharp
/// tensor type: it is written and read as a managed <c>ulong[]</c> only (<see cref="SafetensorsFile.ReadArray{T}(string)"/>).
/// F8_E4M3 (float8_e4m3fn, DeepSeek-V3 / Kimi-K2 weights) is held as its raw codes in a uint8 tensor: values come from
/// <see cref="Quantization.Fp8.BlockFp8.Dequantize"/> with the tensor's <c>_scale_inv</c>, never from a numeric cast.
/// </summary>
public enum SafeDtype { F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, F64, U64, F8_E4M3 }

/// <summary>Sizes, header spellings and TorchSharp equivalents of <see cref="SafeDtype"/>.</summary>
public static class SafeDtypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(SafeDtype dtype) => dtype switch
    {
        SafeDtype.F64 or SafeDtype.I64 or SafeDtype.U64 => 8,
        SafeDtype.F32 or SafeDtype.I32 => 4,
        SafeDtype.F16 or SafeDtype.BF16 or SafeDtype.I16 => 2,
        SafeDtype.I8 or SafeDtype.U8 or SafeDtype.BOOL or SafeDtype.F8_E4M3 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static torch.ScalarType ToTorch(SafeDtype dtype) => dtype switch
    {
        SafeDtype.F64 => torch.ScalarType.Float64,
        SafeDtype.F32 => torch.ScalarType.Float32,
        SafeDtype.F16 => torch.ScalarType.Float16,
        SafeDtype.BF16 => torch.ScalarType.BFloat16,
        SafeDtype.I64 => torch.ScalarType.Int64,
        SafeDtype.I32 => torch.ScalarType.Int32,
        SafeDtype.I16 => torch.ScalarType.Int16,
        SafeDtype.I8 => torch.ScalarType.Int8,
        SafeDtype.U8 or SafeDtype.F8_E4M3 => torch.ScalarType.Byte,   // FP8: raw codes
        SafeDtype.BOOL => torch.ScalarType.Bool,
        SafeDtype.U64 => throw new MoePruneException("dtype U64 has no tensor type here; read it as an array (SafetensorsFile.ReadArray<ulong>)"),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The safetensors dtype of a managed element type (double, float, long, ulong, int, short, sbyte, byte, bool).</summary>
    public static SafeDtype FromElementType(Type type) =>
        type == typeof(double) ? SafeDtype.F64
        : type == typeof(float) ? SafeDtype.F32
        : type == typeof(long) ? SafeDtype.I64
        : type == typeof(ulong) ? SafeDtype.U64
        : type == typeof(int) ? SafeDtype.I32
        : type == typeof(short) ? SafeDtype.I16
        : type == typeof(sbyte) ? SafeDtype.I8
        : type == typeof(byte) ? SafeDtype.U8
        : type == typeof(bool) ? SafeDtype.BOOL
        : throw new ArgumentException($"no safetensors dtype for element type {type}", nameof(type));

    /// <summary>The safetensors dtype of a torch dtype; throws for types safetensors export does not support here.</summary>
    public static SafeDtype FromTorch(torch.ScalarType type) =>
        TryFromTorch(type, out var dtype)
            ? dtype
            : throw new MoePruneException($"tensor dtype {type} cannot be written to safetensors (supported: {string.Join(", ", Enum.GetNames<SafeDtype>())})");

    public static bool TryFromTorch(torch.ScalarType type, out SafeDtype dtype)
    {
        SafeDtype? found = type switch
        {
            torch.ScalarType.Float64 => SafeDtype.F64,
            torch.ScalarType.Float32 => SafeDtype.F32,
            torch.ScalarType.Float16 => SafeDtype.F16,
            torch.ScalarType.BFloat16 => SafeDtype.BF16,
            torch.ScalarType.Int64 => SafeDtype.I64,
            torch.ScalarType.Int32 => SafeDtype.I32,
            torch.ScalarType.Int16 => SafeDtype.I16,
            torch.ScalarType.Int8 => SafeDtype.I8,
            torch.ScalarType.Byte => SafeDtype.U8,
            torch.ScalarType.Bool => SafeDtype.BOOL,
            _ => null,
        };
        dtype = found ?? default;
        return found.HasValue;
    }

    /// <summary>Parses a header dtype string ("BF16"); <paramref name="file"/> names the file in the error.</summary>
    public static SafeDtype Parse(string text, string file)
    {
        if (text is "F8_E5M2" or "F8_E8M0")
            throw new MoePruneException($"{file}: dtype {text} is not supported (of the FP8 formats only block-scaled F8_E4M3 is)");
        if (text is "U16" or "U32" or "C64" or "F4" or "F6_E2M3" or "F6_E3M2")
            throw new MoePruneException($"{file}: dtype {text} is not supported (supported: {string.Join(", ", Enum.GetNames<SafeDtype>())})");
        // Enum.TryParse accepts numbers and other case; the header spelling must match exactly.
        foreach (var d in Enum.GetValues<SafeDtype>())
            if (text == d.ToString()) return d;
        throw new MoePruneException($"{file}: unknown dtype \"{text}\" (supported: {string.Join(", ", Enum.GetNames<SafeDtype>())})");
    }

    /// <summary>The header spelling of a dtype ("BF16").</summary>
    public static string Name(SafeDtype dtype) => dtype.ToString();
}
