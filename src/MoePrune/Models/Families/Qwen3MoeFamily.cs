namespace MoePrune.Models.Families;

/// <summary>
/// Qwen3-MoE (<c>modeling_qwen3_moe.py</c>): Qwen2-MoE routing without the shared expert, per-head
/// QK-norm before RoPE, explicit <c>head_dim</c>, <c>attention_bias</c> on q/k/v/o.
/// </summary>
public static class Qwen3MoeFamily
{
    public static ModelFamily Instance { get; } = new()
    {
        ModelType = "qwen3_moe",
        Architecture = "Qwen3MoeForCausalLM",
        MoeModuleName = "mlp",
        ExpertProjNames = ("gate_proj", "up_proj", "down_proj"),
        ExpertCountKey = "num_experts",
        ExpertCountAliases = ["num_local_experts"],
        ExpertSizeKey = "moe_intermediate_size",
        QkNorm = QkNormPlacement.PerHead,
        MoeLayers = MoeLayerRule.MlpOnlyLayersAndSparseStep,
        IgnoresSlidingWindowKey = true,
        QkvBias = c => c.Bool("attention_bias", false),
        OutputBias = c => c.Bool("attention_bias", false),
        DefaultRmsNormEps = 1e-6,
        DefaultRopeTheta = 10000.0,
        DefaultNormTopKProb = false,
        DefaultTieWordEmbeddings = false,
        Unsupported =
        [
            ("use_sliding_window", c => !c.Bool("use_sliding_window", false)),
        ],
    };
}
