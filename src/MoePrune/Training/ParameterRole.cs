namespace MoePrune.Training;

/// <summary>
/// What a parameter does in the model, read from the module tree (<see cref="ParameterRoles"/>). Flags, so a
/// selection is a set of roles; a tied embedding matrix carries both <see cref="Embeddings"/> and <see cref="LmHead"/>.
/// </summary>
[Flags]
public enum ParameterRole
{
    None = 0,
    /// <summary>The router of each sparse block (the module registered as <c>gate</c>).</summary>
    Routers = 1 << 0,
    /// <summary>The routed experts of each sparse block.</summary>
    Experts = 1 << 1,
    /// <summary>Qwen2-MoE's shared expert and its sigmoid gate (<c>shared_expert</c>, <c>shared_expert_gate</c>).</summary>
    SharedExperts = 1 << 2,
    /// <summary>Self-attention projections (<c>self_attn</c>), without its q/k norms.</summary>
    Attention = 1 << 3,
    /// <summary>Every RMSNorm: input / post-attention / final norms and the q/k norms inside attention.</summary>
    Norms = 1 << 4,
    /// <summary>The token embedding (<c>embed_tokens</c>).</summary>
    Embeddings = 1 << 5,
    /// <summary>The output projection (<c>lm_head</c>; with tied embeddings, the embedding matrix).</summary>
    LmHead = 1 << 6,
    /// <summary>The MLP of dense decoder layers (Qwen2/3-MoE <c>mlp_only_layers</c>, <c>decoder_sparse_step</c>).</summary>
    DenseMlp = 1 << 7,
    All = Routers | Experts | SharedExperts | Attention | Norms | Embeddings | LmHead | DenseMlp,
}
