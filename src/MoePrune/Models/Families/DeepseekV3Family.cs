namespace MoePrune.Models.Families;

/// <summary>
/// DeepSeek-V3 / R1 (<c>modeling_deepseek_v3.py</c>): MLA attention (<c>q_proj</c> when <c>q_lora_rank</c> is null,
/// <c>rope_interleave</c> pairs) with YaRN, sigmoid <c>noaux_tc</c> routing with <c>e_score_correction_bias</c> for selection
/// only and top-2-sum group scores, <c>norm_topk_prob</c> then × <c>routed_scaling_factor</c>, ungated
/// <c>shared_experts</c>, dense layers before <c>first_k_dense_replace</c>, MTP layers and block-FP8 weights as shipped.
/// </summary>
public static class DeepseekV3Family
{
    public static ModelFamily Instance { get; } = new()
    {
        ModelType = "deepseek_v3",
        Architecture = "DeepseekV3ForCausalLM",
        MoeModuleName = "mlp",
        ExpertProjNames = ("gate_proj", "up_proj", "down_proj"),
        ExpertCountKey = "n_routed_experts",
        ExpertSizeKey = "moe_intermediate_size",
        RouterScoreCorrectionBias = true,
        QkNorm = QkNormPlacement.None,
        SharedExpert = DeepseekRules.SharedExperts(defaultCount: 1),
        MoeLayers = MoeLayerRule.FirstKDenseReplace(defaultFirstDense: 3, readsLayerFreq: true),
        QkvBias = c => c.Bool("attention_bias", false),
        OutputBias = c => c.Bool("attention_bias", false),
        DefaultRmsNormEps = 1e-6,
        DefaultRopeTheta = 10000.0,
        DefaultNormTopKProb = true,
        DefaultTieWordEmbeddings = false,
        OwnKeys = DeepseekRules.MlaKeys,
        SupportsYarn = true,
        SupportsMtp = true,
        RouterInFloat32 = true,
        BindMla = c => DeepseekRules.BindMla(c, v3: true),
        BindGroupRouting = c => DeepseekRules.BindGroups(c, 8, 4, 2.5, GroupScoring.TopTwoSum),
        CreateRouting = c => new SigmoidGroupRouting(c.TopK, c.Groups, c.NormTopKProb),
        CreateAttention = (c, dtype, device) => new MlaAttention(c, dtype, device),
        ExpertCountProblem = (c, n) => c.Groups.CountProblem(n, c.TopK),
        Validate = c =>
        {
            DeepseekRules.RequireString(c, "topk_method", "DeepSeek-V3 always routes with noaux_tc", "noaux_tc");
            DeepseekRules.RequireString(c, "scoring_func", "DeepSeek-V3 scores experts with sigmoid", "sigmoid");
            DeepseekRules.RefuseTrue(c, "mlp_bias", "DeepSeek-V3 checkpoints have no MLP biases");
        },
        TinyConfigKeys = DeepseekRules.TinyMlaKeys(("topk_method", "noaux_tc"), ("scoring_func", "sigmoid"), ("num_nextn_predict_layers", 0)),
    };
}
