namespace MoePrune.IO.Gguf;

/// <summary>GGUF metadata value types (gguf-py <c>GGUFValueType</c>; the numbers are on disk).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>The ggml tensor types MoePrune writes (ggml <c>ggml_type</c>; the numbers are on disk).</summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    BF16 = 30,
}

/// <summary>
/// The float type of an export, as <c>--type</c> names it. Matrices take this type; 1-D tensors, norms,
/// biases and the routers (<c>ffn_gate_inp</c>, <c>ffn_gate_inp_shexp</c>) stay F32, as llama.cpp's own
/// converter keeps them.
/// </summary>
public enum GgufFloatType
{
    F32,
    F16,
    BF16,
}

/// <summary>Sizes and names of the types above.</summary>
public static class GgufTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ElementSize(GgmlType type) => type == GgmlType.F32 ? 4 : 2;

    public static GgmlType ToGgml(GgufFloatType type) => type switch
    {
        GgufFloatType.F32 => GgmlType.F32,
        GgufFloatType.F16 => GgmlType.F16,
        _ => GgmlType.BF16,
    };

    /// <summary><c>general.file_type</c> (llama.cpp <c>llama_ftype</c>): ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_BF16 = 32.</summary>
    public static uint FileType(GgufFloatType type) => type switch
    {
        GgufFloatType.F32 => 0,
        GgufFloatType.F16 => 1,
        _ => 32,
    };

    /// <summary>The torch dtype a GGUF tensor of <paramref name="type"/> is converted to before its bytes are written.</summary>
    public static TorchSharp.torch.ScalarType TorchType(GgmlType type) => type switch
    {
        GgmlType.F32 => TorchSharp.torch.ScalarType.Float32,
        GgmlType.F16 => TorchSharp.torch.ScalarType.Float16,
        _ => TorchSharp.torch.ScalarType.BFloat16,
    };

    /// <summary>Parses <c>f32</c> / <c>f16</c> / <c>bf16</c> (case-insensitive); null for anything else.</summary>
    public static GgufFloatType? Parse(string text) => text.ToLowerInvariant() switch
    {
        "f32" or "float32" => GgufFloatType.F32,
        "f16" or "float16" => GgufFloatType.F16,
        "bf16" or "bfloat16" => GgufFloatType.BF16,
        _ => null,
    };
}
