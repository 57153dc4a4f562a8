namespace MoePrune.Models.Families;

/// <summary>
/// DeepSeek-V2 / V2-Lite (<c>modeling_deepseek_v2.py</c>, DeepSeek's remote code where the two disagree): MLA attention
/// with complex (adjacent-pair) RoPE and YaRN including the mscale² softmax factor, softmax routing (<c>greedy</c> or
/// <c>group_limited_greedy</c> by group maximum), weights × <c>routed_scaling_factor</c> never renormalised, ungated
/// <c>shared_experts</c>, dense layers before <c>first_k_dense_replace</c>.
/// </summary>
public static class DeepseekV2Family
{
    public static ModelFamily Instance { get; } = new()
    {
        ModelType = "deepseek_v2",
        Architecture = "DeepseekV2ForCausalLM",
        MoeModuleName = "mlp",
        ExpertProjNames = ("gate_proj", "up_proj", "down_proj"),
        ExpertCountKey = "n_routed_experts",
        ExpertSizeKey = "moe_intermediate_size",
        QkNorm = QkNormPlacement.None,
        SharedExpert = DeepseekRules.SharedExperts(defaultCount: 2),
        MoeLayers = MoeLayerRule.FirstKDenseReplace(defaultFirstDense: 0, readsLayerFreq: true),
        QkvBias = c => c.Bool("attention_bias", false),
        OutputBias = c => c.Bool("attention_bias", false),
        DefaultRmsNormEps = 1e-6,
        DefaultRopeTheta = 10000.0,
        DefaultNormTopKProb = false,
        DefaultTieWordEmbeddings = false,
        OwnKeys = DeepseekRules.MlaKeys,
        SupportsYarn = true,
        RouterInFloat32 = true,
        BindMla = c => DeepseekRules.BindMla(c, v3: false),
        // python (DeepSeek's MoEGate): topk_method "greedy" ignores groups; "group_limited_greedy" keeps the best groups by max
        BindGroupRouting = c => DeepseekRules.BindGroups(c, 1, 1, 1.0,
            c.String("topk_method") == "group_limited_greedy" ? GroupScoring.Max : GroupScoring.None),
        CreateRouting = c => new SoftmaxGroupRouting(c.TopK, c.Groups),
        CreateAttention = (c, dtype, device) => new MlaAttention(c, dtype, device),
        ExpertCountProblem = (c, n) => c.Groups.CountProblem(n, c.TopK),
        Validate = c =>
        {
            DeepseekRules.RequireString(c, "topk_method", "DeepSeek-V2 routes with greedy or group_limited_greedy", "greedy", "group_limited_greedy");
            DeepseekRules.RequireString(c, "scoring_func", "DeepSeek-V2 scores experts with softmax", "softmax");
            DeepseekRules.RefuseTrue(c, "norm_topk_prob", "transformers' DeepSeek-V2 ignores it while DeepSeek's code renormalises");
            DeepseekRules.RefuseTrue(c, "mlp_bias", "transformers adds MLP biases that DeepSeek-V2 checkpoints do not have");
            if (c.Json.ContainsKey("n_shared_experts") && !c.Has("n_shared_experts"))
                throw c.Unsupported("n_shared_experts", "transformers' DeepSeek-V2 always builds shared_experts");
            if (c.Int(MoeConfigParser.MtpLayersKey, 0) != 0)
                throw c.Unsupported(MoeConfigParser.MtpLayersKey, "DeepSeek-V2 has no MTP layers");
        },
        TinyConfigKeys = DeepseekRules.TinyMlaKeys(("topk_method", "greedy"), ("scoring_func", "softmax")),
    };
}
