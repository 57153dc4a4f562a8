using MoePrune.Observation;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Pruning.SemiStructured;

/// <summary>
/// Wanda's input statistics for the routed experts: per MoE layer and expert, Σ x_j² over the calibration tokens routed
/// to the expert, for the inputs of gate/up (the routed hidden rows, H) and of down (act(gate)·up, I). The norm
/// ‖X_j‖₂ is the square root. Attach to <c>MoeForCausalLM.Observers</c> during calibration forwards.
/// </summary>
public sealed class WandaNorms : IMoeObserver, IDisposable
{
    readonly Dictionary<(int Layer, int Expert), (Tensor Input, Tensor Intermediate)> _sums = [];

    public ObserverNeeds Needs => ObserverNeeds.ExpertInputs | ObserverNeeds.ExpertIntermediates;

    public void OnRouting(RoutingEvent e)
    {
        for (int expert = 0; expert < e.NumExperts; expert++)
        {
            var x = e.ExpertInputs![expert];                                                // (n_e, H)
            if (x.shape[0] == 0) continue;
            using var scope = NewDisposeScope();
            var h = e.ExpertIntermediates![expert];                                         // (n_e, I)
            var input = x.to(ScalarType.Float64).pow(Scalars.Of(2)).sum(0);                 // (H) fp64
            var inter = h.to(ScalarType.Float64).pow(Scalars.Of(2)).sum(0);                 // (I) fp64
            if (_sums.TryGetValue((e.LayerIndex, expert), out var s))
            {
                s.Input.add_(input);
                s.Intermediate.add_(inter);
            }
            else _sums[(e.LayerIndex, expert)] = (input.DetachFromDisposeScope(), inter.DetachFromDisposeScope());
        }
    }

    /// <summary>‖X_j‖₂ of the inputs of gate/up (H) and of down (I) of an expert (zeros when no token reached it), fp32.</summary>
    public (Tensor Input, Tensor Intermediate) Norms(int layer, int expert, int hidden, int intermediate) =>
        _sums.TryGetValue((layer, expert), out var s)
            ? (s.Input.sqrt().to(ScalarType.Float32), s.Intermediate.sqrt().to(ScalarType.Float32))      // (H), (I)
            : (zeros(hidden), zeros(intermediate));

    public void Dispose()
    {
        foreach (var (a, b) in _sums.Values) { a.Dispose(); b.Dispose(); }
        _sums.Clear();
    }
}
