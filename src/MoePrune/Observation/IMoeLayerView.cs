using static TorchSharp.torch;

namespace MoePrune.Observation;

/// <summary>
/// A read-only view of one sparse-MoE layer's router and routed experts, for criteria that read weights
/// (and, after <c>backward()</c>, gradients). Tensors are the live parameters: never modify them.
/// Shapes follow Hugging Face's per-expert layout: gate/up (I, H), down (H, I), router (E, H).
/// </summary>
public interface IMoeLayerView
{
    /// <summary>Decoder-layer index as in the tensor names.</summary>
    int LayerIndex { get; }
    int NumExperts { get; }
    int TopK { get; }
    int HiddenSize { get; }
    int ExpertIntermediateSize { get; }

    /// <summary>
    /// The equal groups of consecutive experts routing first chooses among (DeepSeek-V2 <c>group_limited_greedy</c>,
    /// DeepSeek-V3 / Kimi-K2 / GLM-4.5 with <c>n_group</c> &gt; 1), 1 without group-limited routing. A subset of experts
    /// that surgery can realise keeps the same number of each group's experts (see <c>Pruning.GroupBalance</c>).
    /// </summary>
    int RoutingGroups => 1;

    /// <summary>(E, H) router weight.</summary>
    Tensor RouterWeight { get; }
    /// <summary>(I, H) gate projection of expert e (Mixtral w1).</summary>
    Tensor GateProj(int expert);
    /// <summary>(I, H) up projection of expert e (Mixtral w3).</summary>
    Tensor UpProj(int expert);
    /// <summary>(H, I) down projection of expert e (Mixtral w2).</summary>
    Tensor DownProj(int expert);

    /// <summary>Gradients after backward(), or null when none was computed. Same shapes as the weights.</summary>
    Tensor? RouterWeightGrad { get; }
    Tensor? GateProjGrad(int expert);
    Tensor? UpProjGrad(int expert);
    Tensor? DownProjGrad(int expert);

    /// <summary>
    /// The MoE block's output (N, H) for inputs (N, H) (post-attention-normed hidden states) when only the
    /// experts with <paramref name="keep"/>[e] = true may be chosen (the others' router logits are −inf),
    /// including any shared expert. Used by reconstruction-based selection (NAEE). No gradients.
    /// </summary>
    Tensor ForwardWithExperts(Tensor hidden, IReadOnlyList<bool> keep);
}
