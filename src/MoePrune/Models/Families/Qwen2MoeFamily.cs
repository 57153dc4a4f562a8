namespace MoePrune.Models.Families;

/// <summary>
/// Qwen2-MoE (<c>modeling_qwen2_moe.py</c>): <c>mlp</c> with gate/up/down_proj experts, a shared expert
/// scaled by sigmoid(<c>shared_expert_gate</c>), q/k/v biases (o_proj none), optional dense layers.
/// </summary>
public static class Qwen2MoeFamily
{
    public static ModelFamily Instance { get; } = new()
    {
        ModelType = "qwen2_moe",
        Architecture = "Qwen2MoeForCausalLM",
        MoeModuleName = "mlp",
        ExpertProjNames = ("gate_proj", "up_proj", "down_proj"),
        ExpertCountKey = "num_experts",
        ExpertSizeKey = "moe_intermediate_size",
        QkNorm = QkNormPlacement.None,
        SharedExpert = new SharedExpertSpec("shared_expert", "shared_expert_intermediate_size",
                                            ("gate_proj", "up_proj", "down_proj"), GateName: "shared_expert_gate"),
        MoeLayers = MoeLayerRule.MlpOnlyLayersAndSparseStep,
        IgnoresSlidingWindowKey = true,
        // v4 hard-codes bias=True on q/k/v; v5 reads qkv_bias (default True).
        QkvBias = c => c.Bool("qkv_bias", true),
        OutputBias = _ => false,
        DefaultRmsNormEps = 1e-6,
        DefaultRopeTheta = 10000.0,
        DefaultNormTopKProb = false,
        DefaultTieWordEmbeddings = false,
        Unsupported =
        [
            ("use_sliding_window", c => !c.Bool("use_sliding_window", false)),
            ("attention_bias", c => !c.Bool("attention_bias", false)),
        ],
    };
}
