namespace MoePrune.Models.Families;

/// <summary>
/// OLMoE (<c>modeling_olmoe.py</c>): Qwen-style router and expert names, QK-norm over the full q/k
/// projections before the head split, optional <c>clip_qkv</c>, head_dim always hidden/heads.
/// </summary>
public static class OlmoeFamily
{
    public static ModelFamily Instance { get; } = new()
    {
        ModelType = "olmoe",
        Architecture = "OlmoeForCausalLM",
        MoeModuleName = "mlp",
        ExpertProjNames = ("gate_proj", "up_proj", "down_proj"),
        ExpertCountKey = "num_experts",
        ExpertSizeKey = "intermediate_size",
        QkNorm = QkNormPlacement.FullWidth,
        SupportsClipQkv = true,
        SupportsHeadDimKey = false,
        QkvBias = c => c.Bool("attention_bias", false),
        OutputBias = c => c.Bool("attention_bias", false),
        DefaultRmsNormEps = 1e-5,
        DefaultRopeTheta = 10000.0,
        DefaultNormTopKProb = false,
        DefaultTieWordEmbeddings = false,
    };
}
