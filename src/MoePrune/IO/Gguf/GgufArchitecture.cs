using MoePrune.Models;
using MoePrune.Models.Families;

namespace MoePrune.IO.Gguf;

/// <summary>
/// What llama.cpp's loader and graph (<c>src/models/&lt;arch&gt;.cpp</c>) fix for one GGUF architecture,
/// as far as the supported Hugging Face families map onto it: the architecture name, RoPE layout, which
/// tensors are optional and what the graph hard-codes (top-k renormalisation, attention biases used or
/// ignored, full-width Q). Read from llama.cpp's sources (the version node-llama-cpp 3.21.1 bundles); see
/// docs/GGUF.md for the per-family table.
/// </summary>
public sealed class GgufArchitecture
{
    /// <summary><c>general.architecture</c>.</summary>
    public required string Name { get; init; }
    /// <summary>
    /// llama's RoPE rotates pairs of consecutive values (LLAMA_ROPE_TYPE_NORM), HF's rotate_half rotates the two
    /// halves of each head: Q and K rows are permuted so that both compute the same (the converter's <c>permute</c>).
    /// The other architectures use NEOX RoPE, which is rotate_half.
    /// </summary>
    public bool PermuteQk { get; init; }
    /// <summary>The loader falls back to <c>token_embd</c> when <c>output.weight</c> is missing (llama, qwen3moe).</summary>
    public bool OutputOptional { get; init; }
    /// <summary>The graph's <c>build_moe_ffn(..., norm_w, ...)</c>: true renormalises the top-k weights, always.</summary>
    public bool Renormalizes { get; init; }
    /// <summary>q/k/v biases are added by the graph (<c>build_qkv</c>); olmoe's graph multiplies without them.</summary>
    public bool UsesQkvBias { get; init; } = true;
    /// <summary>The loader creates <c>attn_output.bias</c> (llama only).</summary>
    public bool LoadsOutputBias { get; init; }
    /// <summary>Q and attn_output are n_embd wide (qwen2moe, olmoe): head_dim · heads must equal hidden.</summary>
    public bool FullWidthQ { get; init; }
    /// <summary>olmoe's <c>attn_k_norm</c> is n_embd wide: K heads must equal Q heads (GQA is rewritten by repeating K/V heads).</summary>
    public bool KNormFullWidth { get; init; }
    /// <summary>Writes <c>expert_feed_forward_length</c> (Qwen's <c>moe_intermediate_size</c>); llama/olmoe read the expert width from <c>feed_forward_length</c>.</summary>
    public bool ExpertFeedForwardKey { get; init; }
    /// <summary>qwen2moe: every layer has a sigmoid-gated shared expert (<c>ffn_*_shexp</c>).</summary>
    public bool SharedExpert { get; init; }

    public static readonly GgufArchitecture Llama = new()
    {
        Name = "llama", PermuteQk = true, OutputOptional = true, Renormalizes = true, LoadsOutputBias = true,
    };

    public static readonly GgufArchitecture Qwen2Moe = new()
    {
        Name = "qwen2moe", Renormalizes = false, FullWidthQ = true, ExpertFeedForwardKey = true, SharedExpert = true,
    };

    public static readonly GgufArchitecture Qwen3Moe = new()
    {
        Name = "qwen3moe", OutputOptional = true, Renormalizes = true, ExpertFeedForwardKey = true,
    };

    public static readonly GgufArchitecture Olmoe = new()
    {
        Name = "olmoe", Renormalizes = false, UsesQkvBias = false, FullWidthQ = true, KNormFullWidth = true,
    };

    /// <summary>The GGUF architecture of a family; a one-line error for a family without one.</summary>
    public static GgufArchitecture For(ModelFamily family) => family.ModelType switch
    {
        "mixtral" => Llama,
        "qwen2_moe" => Qwen2Moe,
        "qwen3_moe" => Qwen3Moe,
        "olmoe" => Olmoe,
        _ => throw new MoePruneException($"GGUF export: model_type {family.ModelType} has no llama.cpp architecture here"),
    };

    /// <summary>KV heads in the file: OLMoE GQA is written with every K/V head repeated up to the Q heads.</summary>
    public int FileKvHeads(MoeConfig config) => KNormFullWidth ? config.NumAttentionHeads : config.NumKeyValueHeads;

    /// <summary>The context length written (<c>max_position_embeddings</c>, transformers' default when absent).</summary>
    public static int ContextLength(MoeConfig config)
    {
        if (config.Source["max_position_embeddings"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<int>(out int n)) return n;
        return config.ModelType switch
        {
            "mixtral" => 4096 * 32,
            "qwen2_moe" => 8192,
            "qwen3_moe" => 32768,
            _ => 4096,
        };
    }
}
