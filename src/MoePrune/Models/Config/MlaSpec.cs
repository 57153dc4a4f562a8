namespace MoePrune.Models;

/// <summary>How MLA applies RoPE to its rope features (all layouts give the same q·k when q and k share it).</summary>
public enum RopeLayout
{
    /// <summary>rotate_half on pairs (j, j + d/2): DeepSeek-V3 with <c>rope_interleave: false</c>.</summary>
    Half,
    /// <summary>
    /// Adjacent pairs (2j, 2j + 1): DeepSeek-V2's complex multiplication and DeepSeek-V3's <c>rope_interleave</c>; computed
    /// by reordering to (x0, x2, …, x1, x3, …) and applying rotate_half.
    /// </summary>
    Interleaved,
}

/// <summary>
/// Multi-head latent attention (DeepSeek-V2/V3, Kimi-K2): the query through <c>q_proj</c> (<see cref="QLoraRank"/> null) or
/// <c>q_a_proj</c> → <c>q_a_layernorm</c> → <c>q_b_proj</c>; keys and values from <c>kv_a_proj_with_mqa</c> (kv_lora_rank +
/// qk_rope_head_dim) → <c>kv_a_layernorm</c> → <c>kv_b_proj</c> (per head qk_nope_head_dim + v_head_dim); RoPE on the
/// rope features only, one rope key shared by every head.
/// </summary>
public sealed record MlaSpec(int? QLoraRank, int KvLoraRank, int QkNopeHeadDim, int QkRopeHeadDim, int VHeadDim, RopeLayout RopeLayout)
{
    /// <summary>The LoRA norms are built without <c>rms_norm_eps</c> in every modeling file.</summary>
    public const double LoraNormEps = 1e-6;

    /// <summary>Query/key features per head (nope + rope).</summary>
    public int QkHeadDim => QkNopeHeadDim + QkRopeHeadDim;
}
