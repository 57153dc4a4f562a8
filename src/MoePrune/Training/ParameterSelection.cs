using MoePrune.Models;
using TorchSharp.Modules;

namespace MoePrune.Training;

/// <summary>
/// Which parameters a training run changes, as a set of <see cref="ParameterRole"/>s. <see cref="Apply"/> turns
/// gradients on for the selected parameters and off for every other one, so the optimizer neither sees nor
/// touches them (they stay bit-identical).
/// </summary>
public sealed record ParameterSelection(ParameterRole Roles)
{
    public static ParameterSelection All { get; } = new(ParameterRole.All);

    /// <summary>"all", "routers", "experts", … or a comma-separated list (<see cref="ParameterRoles.Parse"/>).</summary>
    public static ParameterSelection Parse(string spec) => new(ParameterRoles.Parse(spec));

    public override string ToString() => ParameterRoles.Format(Roles);

    /// <summary>The selected parameters in model order; weight decay applies to matrices other than norms and embeddings.</summary>
    public List<TrainableParameter> Select(MoeForCausalLM model)
    {
        var selected = ParameterRoles.Of(model)
            .Where(p => (p.Roles & Roles) != 0)
            .Select(p => new TrainableParameter(p.Name, p.Parameter,
                Decay: p.Parameter.dim() >= 2 && (p.Roles & (ParameterRole.Norms | ParameterRole.Embeddings)) == 0))
            .ToList();
        if (selected.Count == 0)
            throw new MoePruneException($"trainable roles \"{this}\": the model has no such parameters");
        return selected;
    }

    /// <summary>
    /// Sets <c>requires_grad</c> on the selected parameters and clears it on the others; returns the previous
    /// flags, for <see cref="Restore"/>.
    /// </summary>
    public static Dictionary<Parameter, bool> Apply(MoeForCausalLM model, IReadOnlyList<TrainableParameter> selected)
    {
        var chosen = selected.Select(p => p.Parameter).ToHashSet(ReferenceEqualityComparer.Instance);
        var previous = new Dictionary<Parameter, bool>(ReferenceEqualityComparer.Instance);
        foreach (var p in model.parameters())
        {
            previous[p] = p.requires_grad;
            p.requires_grad = chosen.Contains(p);
        }
        return previous;
    }

    public static void Restore(Dictionary<Parameter, bool> previous)
    {
        foreach (var (p, flag) in previous) p.requires_grad = flag;
    }
}
