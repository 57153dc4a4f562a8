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
/// One Hugging Face MoE family as data: its config keys, tensor names and the small switches and factories
/// where its modeling file differs from the shared decoder. Every family file under Families/ fills one of
/// these; a new family (e.g. DeepSeek) adds a file plus, where its math differs, a routing strategy, an
/// attention module, a <see cref="MoeLayerRule"/> or a <see cref="SharedExpertSpec"/> (docs/DESIGN-models.md).
/// A record, so a test can derive a variant with <c>with { … }</c>.
/// </summary>
public sealed record ModelFamily
{
    /// <summary>config.json <c>model_type</c>.</summary>
    public required string ModelType { get; init; }
    /// <summary>The transformers class written to <c>architectures</c> by tiny checkpoints.</summary>
    public required string Architecture { get; init; }

    /// <summary>Decoder-layer child holding the sparse block on disk: <c>block_sparse_moe</c> (Mixtral) or <c>mlp</c>.</summary>
    public required string MoeModuleName { get; init; }
    /// <summary>Per-expert projection names on disk: gate (act input), up, down.</summary>
    public required (string Gate, string Up, string Down) ExpertProjNames { get; init; }

    /// <summary>DeepSeek-V3: the router also holds <c>e_score_correction_bias</c> (E). None of today's families has it.</summary>
    public bool RouterScoreCorrectionBias { get; init; }

    /// <summary>
    /// Router tensors under the MoE module — the <see cref="Router"/>'s parameters (<c>gate.weight</c>, plus
    /// <c>gate.e_score_correction_bias</c> where the family has it) — each holding one row (dim 0) per routed
    /// expert: surgery gathers their rows in slot order with <see cref="Router.SliceRows"/>.
    /// </summary>
    public IReadOnlyList<string> RouterTensorNames =>
        Router.ParameterNames(RouterScoreCorrectionBias).Select(n => $"{Router.ModuleName}.{n}").ToArray();

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
    /// <summary>
    /// Qwen2/3-MoE configs carry a <c>sliding_window</c> value that only <c>use_sliding_window</c> (rejected
    /// separately) would switch on: the key is accepted and ignored. Other families without a window refuse it.
    /// </summary>
    public bool IgnoresSlidingWindowKey { get; init; }
    /// <summary>Qwen2-MoE: a shared expert beside the routed ones; null when the family has none.</summary>
    public SharedExpertSpec? SharedExpert { get; init; }
    /// <summary>True when the family has a shared expert (<see cref="SharedExpert"/> is set).</summary>
    public bool HasSharedExpert => SharedExpert is not null;
    /// <summary>Which decoder layers are sparse (default: every layer; Qwen: mlp_only_layers and decoder_sparse_step).</summary>
    public MoeLayerRule MoeLayers { get; init; } = MoeLayerRule.EveryLayer;
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
    /// checks in <see cref="MoeConfigParser"/>: (key, is the value acceptable).
    /// </summary>
    public IReadOnlyList<(string Key, Func<ConfigReader, bool> Accept)> Unsupported { get; init; } = [];

    /// <summary>
    /// Why a sparse layer cannot hold <c>count</c> routed experts under this config (e.g. DeepSeek's
    /// <c>n_group</c> must divide it), or null when it can (the default).
    /// </summary>
    public Func<MoeConfig, int, string?> ExpertCountProblem { get; init; } = (_, _) => null;

    /// <summary>Throws a one-line <see cref="MoePruneException"/> naming the config when <see cref="ExpertCountProblem"/> refuses <paramref name="count"/>.</summary>
    public void ValidateExpertCount(MoeConfig config, int count, string where)
    {
        if (ExpertCountProblem(config, count) is string problem)
            throw new MoePruneException($"{config.Path}: {count} routed experts {where} are not possible for {ModelType}: {problem}");
    }

    /// <summary>
    /// Config keys of DeepSeek-style models this family reads (<c>n_routed_experts</c>, <c>q_lora_rank</c>, …): they leave
    /// <see cref="MoeConfigParser"/>'s refusal of foreign keys.
    /// </summary>
    public IReadOnlyList<string> OwnKeys { get; init; } = [];
    /// <summary>DeepSeek / GLM: binds <c>n_group</c>, <c>topk_group</c>, the group score and <c>routed_scaling_factor</c>; null = plain routing.</summary>
    public Func<ConfigReader, GroupRouting>? BindGroupRouting { get; init; }
    /// <summary>DeepSeek-V2/V3, Kimi-K2: binds the MLA dimensions; null = standard attention with q/k/v projections.</summary>
    public Func<ConfigReader, MlaSpec>? BindMla { get; init; }
    /// <summary>Accepts YaRN in <c>rope_scaling</c> / <c>rope_parameters</c> (the other families refuse any rope scaling).</summary>
    public bool SupportsYarn { get; init; }
    /// <summary>GLM: the default <c>partial_rotary_factor</c> (read top level or inside <c>rope_parameters</c>); null = the family has none.</summary>
    public double? DefaultPartialRotaryFactor { get; init; }
    /// <summary>GLM: the boolean key (default false) that switches <see cref="QkNorm"/> on; null = it always applies.</summary>
    public string? QkNormKey { get; init; }
    /// <summary>DeepSeek-V3 / GLM: reads <c>num_nextn_predict_layers</c> (MTP layers stored after the decoder layers).</summary>
    public bool SupportsMtp { get; init; }
    /// <summary>DeepSeek / GLM: router logits from fp32 casts of the hidden states and the router weight, whatever the model dtype.</summary>
    public bool RouterInFloat32 { get; init; }
    /// <summary>Family-specific refusals beyond <see cref="Unsupported"/>: throws a one-line error naming the key (default: none).</summary>
    public Action<ConfigReader> Validate { get; init; } = _ => { };
    /// <summary>Keys a tiny checkpoint of this family writes beyond the shared ones (MLA sizes, groups, …).</summary>
    public IReadOnlyList<(string Key, System.Text.Json.Nodes.JsonNode Value)> TinyConfigKeys { get; init; } = [];

    /// <summary>The router's scoring and selection (default: softmax in fp32, top-k, optional renormalisation).</summary>
    public Func<MoeConfig, IRoutingStrategy> CreateRouting { get; init; } =
        c => new SoftmaxTopKRouting(c.TopK, c.NormTopKProb);

    /// <summary>
    /// The attention module of a decoder layer, with the rotary embedding it applies built from the config
    /// (default: <see cref="Attention"/> with <see cref="RotaryEmbedding.FromConfig"/>; MLA and YaRN plug in here).
    /// </summary>
    public Func<MoeConfig, ScalarType, Device, nn.Module<AttentionInput, Tensor>> CreateAttention { get; init; } =
        (c, dtype, device) => new Attention(c, RotaryEmbedding.FromConfig(c), dtype, device);

    public override string ToString() => ModelType;
}
