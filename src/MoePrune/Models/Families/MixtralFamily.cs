namespace MoePrune.Models.Families;

/// <summary>
/// Mixtral (<c>modeling_mixtral.py</c>): <c>block_sparse_moe</c> with experts w1 (gate), w3 (up), w2 (down);
/// top-k weights always renormalised; no biases, no QK-norm; optional causal sliding window.
/// </summary>
public static class MixtralFamily
{
    public static ModelFamily Instance { get; } = new()
    {
        ModelType = "mixtral",
        Architecture = "MixtralForCausalLM",
        MoeModuleName = "block_sparse_moe",
        ExpertProjNames = ("w1", "w3", "w2"),
        ExpertCountKey = "num_local_experts",
        ExpertSizeKey = "intermediate_size",
        AlwaysRenormalize = true,
        QkNorm = QkNormPlacement.None,
        SupportsSlidingWindow = true,
        QkvBias = _ => false,
        OutputBias = _ => false,
        DefaultRmsNormEps = 1e-5,
        DefaultRopeTheta = 1e6,
        DefaultNormTopKProb = true,
        DefaultTieWordEmbeddings = false,
        Unsupported =
        [
            ("attention_bias", c => !c.Bool("attention_bias", false)),
        ],
    };
}
