using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Models.Families;

/// <summary>Where a family applies RMSNorm to queries and keys.</summary>
public enum QkNormPlacement
{
    /// <summary>No QK-norm (Mixtral, Qwen2-MoE).</summary>
    None,
    /// <summary>Qwen3: per head over head_dim, after the head split and before RoPE.</summary>
    PerHead,
    /// <summary>OLMoE: over the full q (heads·head_dim) and k (kv_heads·head_dim) projections, before the head split.</summary>
    FullWidth,
}

/// <summary>
/// One Hugging Face MoE family as data: its config keys, tensor names and the small switches where its
/// modeling file differs from the shared decoder. Every family file under Families/ fills one of these;
/// a new family (e.g. DeepSeek) adds a file plus, where its math differs, a new routing strategy or
/// attention kind (see docs/DESIGN-models.md).
/// </summary>
public sealed class ModelFamily
{
    /// <summary>config.json <c>model_type</c>.</summary>
    public required string ModelType { get; init; }
    /// <summary>The transformers class written to <c>architectures</c> by tiny checkpoints.</summary>
    public required string Architecture { get; init; }

    /// <summary>Decoder-layer child holding the sparse block on disk: <c>block_sparse_moe</c> (Mixtral) or <c>mlp</c>.</summary>
    public required string MoeModuleName { get; init; }
    /// <summary>Per-expert projection names on disk: gate (act input), up, down.</summary>
    public required (string Gate, string Up, string Down) ExpertProjNames { get; init; }

    /// <summary>
    /// Router tensors under the MoE module, each holding one row (dim 0) per routed expert: surgery gathers
    /// their rows in slot order (e.g. <c>gate.weight</c>; DeepSeek-V3 adds <c>gate.e_score_correction_bias</c>).
    /// </summary>
    public IReadOnlyList<string> RouterTensorNames { get; init; } = ["gate.weight"];

    /// <summary>Config key of the routed-expert count (<c>num_local_experts</c> / <c>num_experts</c>).</summary>
    public required string ExpertCountKey { get; init; }
    /// <summary>Other spellings of the expert count (transformers v5 maps qwen3_moe num_experts ↔ num_local_experts).</summary>
    public IReadOnlyList<string> ExpertCountAliases { get; init; } = [];
    /// <summary>Config key of the expert FFN width (<c>intermediate_size</c> / <c>moe_intermediate_size</c>).</summary>
    public required string ExpertSizeKey { get; init; }

    /// <summary>Mixtral has no <c>norm_topk_prob</c>: it always renormalises the top-k weights.</summary>
    public bool AlwaysRenormalize { get; init; }
    public QkNormPlacement QkNorm { get; init; }
    /// <summary>OLMoE: <c>clip_qkv</c> clamps q, k and v.</summary>
    public bool SupportsClipQkv { get; init; }
    /// <summary>Mixtral: <c>sliding_window</c> limits attention to the last W keys.</summary>
    public bool SupportsSlidingWindow { get; init; }
    /// <summary>Qwen2-MoE: a sigmoid-gated shared expert beside the routed ones.</summary>
    public bool HasSharedExpert { get; init; }
    /// <summary>Qwen2/3-MoE: <c>mlp_only_layers</c> and <c>decoder_sparse_step</c> make some layers dense.</summary>
    public bool SupportsDenseLayers { get; init; }
    /// <summary>OLMoE ignores <c>head_dim</c> (always hidden/heads).</summary>
    public bool SupportsHeadDimKey { get; init; } = true;

    /// <summary>q/k/v bias from the config (Qwen2-MoE: <c>qkv_bias</c>, default true; others: <c>attention_bias</c>).</summary>
    public required Func<ConfigReader, bool> QkvBias { get; init; }
    /// <summary>o_proj bias from the config.</summary>
    public required Func<ConfigReader, bool> OutputBias { get; init; }

    public required double DefaultRmsNormEps { get; init; }
    public required double DefaultRopeTheta { get; init; }
    public required bool DefaultNormTopKProb { get; init; }
    public required bool DefaultTieWordEmbeddings { get; init; }

    /// <summary>
    /// Keys whose non-default values this engine does not implement for this family, beyond the shared
    /// list in <see cref="MoeConfig"/>: (key, is the value acceptable).
    /// </summary>
    public IReadOnlyList<(string Key, Func<ConfigReader, bool> Accept)> Unsupported { get; init; } = [];

    /// <summary>The router's scoring and selection (default: softmax in fp32, top-k, optional renormalisation).</summary>
    public Func<MoeConfig, IRoutingStrategy> CreateRouting { get; init; } =
        c => new SoftmaxTopKRouting(c.TopK, c.NormTopKProb);

    /// <summary>The attention module of a decoder layer (default: <see cref="Attention"/>; MLA would plug in here).</summary>
    public Func<MoeConfig, ScalarType, Device, nn.Module<AttentionInput, Tensor>> CreateAttention { get; init; } =
        (c, dtype, device) => new Attention(c, dtype, device);

    public override string ToString() => ModelType;
}
