namespace MoePrune.Models.Families;

/// <summary>
/// Qwen3-MoE (<c>modeling_qwen3_moe.py</c>): Qwen2-MoE routing without the shared expert, per-head
/// QK-norm before RoPE, explicit <c>head_dim</c>, <c>attention_bias</c> on q/k/v/o.
/// </summary>
public static class Qwen3MoeFamily
{
    /// <summary>Qwen2-MoE's data with Qwen3-MoE's deltas (transformers' modular_qwen3_moe derives from Qwen2-MoE).</summary>
    public static ModelFamily Instance { get; } = Qwen2MoeFamily.Instance with
    {
        ModelType = "qwen3_moe",
        Architecture = "Qwen3MoeForCausalLM",
        ExpertCountAliases = ["num_local_experts"],
        QkNorm = QkNormPlacement.PerHead,
        SharedExpert = null,
        QkvBias = c => c.Bool("attention_bias", false),
        OutputBias = c => c.Bool("attention_bias", false),
        Unsupported =
        [
            ("use_sliding_window", c => !c.Bool("use_sliding_window", false)),
        ],
    };
}
