using TorchSharp;

namespace MoePrune.Observation;

/// <summary>What an observer wants to be shown besides the routing decisions (which are always shown).</summary>
[Flags]
public enum ObserverNeeds
{
    Routing = 0,
    /// <summary>Each expert's routed input rows (n_e, H).</summary>
    ExpertInputs = 1,
    /// <summary>Each expert's intermediate activations act(gate)·up, before the down projection (n_e, I).</summary>
    ExpertIntermediates = 2,
    /// <summary>Each expert's output rows before gating (n_e, H).</summary>
    ExpertOutputs = 4,
    All = ExpertInputs | ExpertIntermediates | ExpertOutputs,
}

/// <summary>
/// Receives, from every sparse-MoE layer and every forward, the routing of the non-padded tokens
/// (and expert activations when asked). Tensors in the event are only valid during the call: an
/// observer that keeps anything must copy it (<c>.detach().clone()</c> or reduce it to statistics).
/// </summary>
public interface IMoeObserver
{
    ObserverNeeds Needs { get; }

    void OnRouting(RoutingEvent e);
}
