namespace MoePrune.Models.Families;

/// <summary>
/// GLM-4.5 / GLM-4.5-Air (<c>modeling_glm4_moe.py</c>): grouped-query attention with q/k/v bias (<c>attention_bias</c>;
/// o_proj never has one), per-head QK-norm before RoPE when <c>use_qk_norm</c>, partial rotary
/// (<c>partial_rotary_factor</c>, default 0.5), DeepSeek-V3's sigmoid <c>noaux_tc</c> routing, ungated
/// <c>shared_experts</c>, dense layers before <c>first_k_dense_replace</c>, MTP layers. Experts are sized by
/// <c>moe_intermediate_size</c> as the checkpoints are.
/// </summary>
public static class Glm4MoeFamily
{
    public static ModelFamily Instance { get; } = new()
    {
        ModelType = "glm4_moe",
        Architecture = "Glm4MoeForCausalLM",
        MoeModuleName = "mlp",
        ExpertProjNames = ("gate_proj", "up_proj", "down_proj"),
        ExpertCountKey = "n_routed_experts",
        ExpertSizeKey = "moe_intermediate_size",
        RouterScoreCorrectionBias = true,
        QkNorm = QkNormPlacement.PerHead,
        QkNormKey = "use_qk_norm",
        SharedExpert = DeepseekRules.SharedExperts(defaultCount: 1),
        MoeLayers = MoeLayerRule.FirstKDenseReplace(defaultFirstDense: 1, readsLayerFreq: false),
        QkvBias = c => c.Bool("attention_bias", false),
        OutputBias = _ => false,
        DefaultRmsNormEps = 1e-5,
        DefaultRopeTheta = 10000.0,
        DefaultNormTopKProb = true,
        DefaultTieWordEmbeddings = false,
        DefaultPartialRotaryFactor = 0.5,
        OwnKeys = DeepseekRules.GlmKeys,
        SupportsMtp = true,
        RouterInFloat32 = true,
        BindGroupRouting = c => DeepseekRules.BindGroups(c, 1, 1, 1.0, GroupScoring.TopTwoSum),
        CreateRouting = c => new SigmoidGroupRouting(c.TopK, c.Groups, c.NormTopKProb),
        ExpertCountProblem = (c, n) => c.Groups.CountProblem(n, c.TopK),
        Validate = c =>
        {
            DeepseekRules.RequireString(c, "topk_method", "GLM-4.5 routes with noaux_tc", "noaux_tc");
            DeepseekRules.RequireString(c, "scoring_func", "GLM-4.5 scores experts with sigmoid", "sigmoid");
        },
        TinyConfigKeys = [("n_group", 1), ("topk_group", 1), ("use_qk_norm", true), ("partial_rotary_factor", 0.5)],
    };
}
