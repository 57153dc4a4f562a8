using static TorchSharp.torch;

namespace MoePrune.Observation;

/// <summary>
/// One sparse-MoE layer's routing of the N non-padded tokens of one forward. Row i of every per-token
/// tensor is the same token. Expert slices list, for expert e, the tokens routed to it in ascending
/// token order.
/// </summary>
public sealed class RoutingEvent
{
    /// <summary>Decoder-layer index, as in the tensor names (<c>model.layers.{LayerIndex}</c>).</summary>
    public required int LayerIndex { get; init; }
    public required int NumExperts { get; init; }
    public required int TopK { get; init; }
    /// <summary>(N, E) router logits, fp32.</summary>
    public required Tensor RouterLogits { get; init; }
    /// <summary>(N, k) chosen experts, int64, in descending routing-probability order.</summary>
    public required Tensor TopKIndices { get; init; }
    /// <summary>(N, k) the gate weights actually applied (after renormalisation where the family does it), fp32.</summary>
    public required Tensor TopKWeights { get; init; }
    /// <summary>(N) token ids of the routed positions, int64.</summary>
    public required Tensor TokenIds { get; init; }
    /// <summary>(N, H) the MoE block's input hidden states (after the post-attention norm).</summary>
    public required Tensor Hidden { get; init; }
    /// <summary>Per expert e: (n_e) indices into the N rows of the tokens routed to e (int64).</summary>
    public required IReadOnlyList<Tensor> ExpertRows { get; init; }
    /// <summary>Per expert e: (n_e) the gate weight of e for each of those tokens, fp32.</summary>
    public required IReadOnlyList<Tensor> ExpertGates { get; init; }
    /// <summary>Per expert: (n_e, H) routed inputs; null unless an observer asked for <see cref="ObserverNeeds.ExpertInputs"/>.</summary>
    public IReadOnlyList<Tensor>? ExpertInputs { get; init; }
    /// <summary>Per expert: (n_e, I) act(gate)·up; null unless asked for.</summary>
    public IReadOnlyList<Tensor>? ExpertIntermediates { get; init; }
    /// <summary>Per expert: (n_e, H) expert outputs before gating; null unless asked for.</summary>
    public IReadOnlyList<Tensor>? ExpertOutputs { get; init; }
}
