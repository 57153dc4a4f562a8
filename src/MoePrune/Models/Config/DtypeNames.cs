using TorchSharp;

namespace MoePrune.Models;

/// <summary>Maps config.json / CLI dtype names (<c>float32</c>, <c>bfloat16</c>, <c>fp32</c>, <c>bf16</c>…) to torch dtypes.</summary>
public static class DtypeNames
{
    public static torch.ScalarType? TryParse(string? name) => name?.ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" or "float" => torch.ScalarType.Float32,
        "bfloat16" or "bf16" => torch.ScalarType.BFloat16,
        "float16" or "fp16" or "f16" or "half" => torch.ScalarType.Float16,
        _ => null,
    };

    /// <summary>Parses a CLI <c>--dtype</c> value; null or "auto" means "the checkpoint's".</summary>
    public static torch.ScalarType? ParseOption(string? value, string option = "--dtype")
    {
        if (value is null || value == "auto") return null;
        return TryParse(value) ?? throw new MoePruneException($"{option}: unknown dtype \"{value}\" (use f32, bf16 or f16)");
    }

    public static string ToConfigName(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float32 => "float32",
        torch.ScalarType.BFloat16 => "bfloat16",
        torch.ScalarType.Float16 => "float16",
        _ => throw new MoePruneException($"dtype {dtype} is not a model dtype (use float32, bfloat16 or float16)"),
    };
}
