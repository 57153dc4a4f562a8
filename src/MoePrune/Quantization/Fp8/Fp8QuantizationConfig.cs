using System.Text.Json.Nodes;

namespace MoePrune.Quantization.Fp8;

/// <summary>
/// The <c>quantization_config</c> of a block-FP8 checkpoint (DeepSeek-V3, Kimi-K2):
/// <c>{"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [128, 128]}</c>,
/// optionally <c>"scale_fmt": "ue8m0"</c> (power-of-two scales). Anything else is refused by key.
/// </summary>
public sealed record Fp8QuantizationConfig(int BlockRows, int BlockCols, Fp8ScaleFormat ScaleFormat)
{
    static readonly HashSet<string> KnownKeys =
        ["quant_method", "fmt", "activation_scheme", "weight_block_size", "scale_fmt"];

    /// <summary>
    /// Null when <paramref name="quantizationConfig"/> is absent or JSON null; the block-FP8 description
    /// otherwise. <paramref name="source"/> names the config file in errors.
    /// </summary>
    public static Fp8QuantizationConfig? Parse(JsonNode? quantizationConfig, string source)
    {
        if (quantizationConfig is null) return null;
        if (quantizationConfig is not JsonObject q)
            throw new MoePruneException($"{source}: quantization_config must be an object");
        string method = Text(q, "quant_method", source);
        if (method != "fp8")
            throw new MoePruneException($"{source}: quantization_config.quant_method \"{method}\" is not supported (only block \"fp8\")");
        foreach (var key in q.Select(p => p.Key))
            if (!KnownKeys.Contains(key))
                throw new MoePruneException($"{source}: quantization_config.{key} is not supported for fp8 checkpoints");
        string fmt = q.ContainsKey("fmt") ? Text(q, "fmt", source) : "e4m3";
        if (fmt != "e4m3")
            throw new MoePruneException($"{source}: quantization_config.fmt \"{fmt}\" is not supported (only \"e4m3\")");
        string activations = q.ContainsKey("activation_scheme") ? Text(q, "activation_scheme", source) : "dynamic";
        if (activations != "dynamic")
            throw new MoePruneException($"{source}: quantization_config.activation_scheme \"{activations}\" is not supported (only \"dynamic\")");
        var scale = Fp8ScaleFormat.Float32;
        if (q.ContainsKey("scale_fmt"))
        {
            string s = Text(q, "scale_fmt", source);
            scale = s == "ue8m0"
                ? Fp8ScaleFormat.PowerOfTwo
                : throw new MoePruneException($"{source}: quantization_config.scale_fmt \"{s}\" is not supported (only \"ue8m0\")");
        }
        if (q["weight_block_size"] is not JsonArray { Count: 2 } block
            || !block.All(n => n is JsonValue v && v.TryGetValue(out int b) && b > 0))
            throw new MoePruneException($"{source}: quantization_config.weight_block_size must be two positive integers, e.g. [128, 128] (per-tensor FP8 is not supported)");
        return new Fp8QuantizationConfig(block[0]!.GetValue<int>(), block[1]!.GetValue<int>(), scale);
    }

    static string Text(JsonObject q, string key, string source) =>
        q[key] is JsonValue v && v.TryGetValue(out string? s)
            ? s
            : throw new MoePruneException($"{source}: quantization_config.{key} must be a string");
}
