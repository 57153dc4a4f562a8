using MoePrune.Observation;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>Collects the per-expert activations observers asked for (<see cref="ObserverNeeds"/>) during one dispatch.</summary>
internal sealed class ExpertCapture(int numExperts, ObserverNeeds needs)
{
    public List<Tensor>? Inputs { get; } = needs.HasFlag(ObserverNeeds.ExpertInputs) ? new(numExperts) : null;
    public List<Tensor>? Intermediates { get; } = needs.HasFlag(ObserverNeeds.ExpertIntermediates) ? new(numExperts) : null;
    public List<Tensor>? Outputs { get; } = needs.HasFlag(ObserverNeeds.ExpertOutputs) ? new(numExperts) : null;

    /// <param name="input">(n_e, H)</param>
    /// <param name="intermediate">(n_e, I)</param>
    /// <param name="output">(n_e, H) before gating</param>
    public void Add(Tensor input, Tensor intermediate, Tensor output)
    {
        Inputs?.Add(input);
        Intermediates?.Add(intermediate);
        Outputs?.Add(output);
    }

    /// <summary>An expert no token chose: empty (0, H) / (0, I) tensors.</summary>
    public void AddEmpty(Tensor like, int intermediate)
    {
        long h = like.shape[1];
        Inputs?.Add(empty(0, h, like.dtype, like.device));
        Intermediates?.Add(empty(0, intermediate, like.dtype, like.device));
        Outputs?.Add(empty(0, h, like.dtype, like.device));
    }
}
