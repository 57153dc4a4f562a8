using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// The router of a sparse block (HF <c>*TopKRouter</c>, registered as <c>gate</c>): it owns the router
/// parameters — <c>weight</c> (E, H) and, where the family asks (DeepSeek-V3), a per-expert
/// <c>e_score_correction_bias</c> (E) — and applies the family's <see cref="IRoutingStrategy"/>. Every router
/// tensor has one row (dim 0) per routed expert; surgery gathers them with <see cref="SliceRows"/>.
/// </summary>
public sealed class Router : nn.Module<Tensor, Tensor>
{
    /// <summary>The module name under the sparse block, so the state-dict keys are <c>….gate.weight</c>.</summary>
    public const string ModuleName = "gate";
    /// <summary>DeepSeek-V3's name for the per-expert selection bias.</summary>
    public const string ScoreCorrectionBiasName = "e_score_correction_bias";

    [TorchSharp.Utils.ComponentName(Name = "weight")] private readonly Parameter _weight;
    [TorchSharp.Utils.ComponentName(Name = ScoreCorrectionBiasName)] private readonly Parameter? _scoreCorrectionBias;
    private readonly IRoutingStrategy _routing;

    /// <param name="scoreCorrectionBias">Register <c>e_score_correction_bias</c> (E); it takes no gradient.</param>
    public Router(int hidden, int experts, IRoutingStrategy routing, bool scoreCorrectionBias, ScalarType dtype, Device device)
        : base(nameof(Router))
    {
        _routing = routing;
        _weight = new Parameter(empty(experts, hidden, dtype, device));                          // (E, H)
        if (scoreCorrectionBias)
            _scoreCorrectionBias = new Parameter(empty(experts, dtype, device), requires_grad: false); // (E)
        RegisterComponents();
    }

    /// <summary>Parameter names under <c>gate</c> for a router with or without the bias (what <see cref="Families.ModelFamily.RouterTensorNames"/> lists).</summary>
    public static IReadOnlyList<string> ParameterNames(bool scoreCorrectionBias) =>
        scoreCorrectionBias ? ["weight", ScoreCorrectionBiasName] : ["weight"];

    /// <summary>(E, H)</summary>
    public Parameter Weight => _weight;
    /// <summary>(E) in the model dtype, or null when the family has none.</summary>
    public Parameter? ScoreCorrectionBias => _scoreCorrectionBias;
    public IRoutingStrategy Routing => _routing;

    /// <summary>Router logits: (N, H) → (N, E) in the model dtype.</summary>
    public override Tensor forward(Tensor x) => nn.functional.linear(x, _weight);

    /// <summary>The family's top-k choice for router logits (N, E); experts outside <paramref name="expertMask"/> (E) bool are never chosen.</summary>
    public RoutingDecision Route(Tensor routerLogits, Tensor? expertMask = null) =>
        _routing.Route(routerLogits, expertMask, _scoreCorrectionBias);

    /// <summary>
    /// Rows <paramref name="originals"/> (dim 0) of a router tensor — weight (E, H) or a bias (E) — in that order:
    /// a new tensor of shape (E', …) with the input's dtype and device, detached from autograd.
    /// </summary>
    public static Tensor SliceRows(Tensor routerTensor, IReadOnlyList<int> originals)
    {
        long rows = routerTensor.shape[0];
        foreach (var o in originals)
            if (o < 0 || o >= rows)
                throw new ArgumentOutOfRangeException(nameof(originals), $"router row {o} is outside 0..{rows - 1}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var index = tensor(originals.Select(o => (long)o).ToArray(), device: routerTensor.device); // (E') int64
        return routerTensor.detach().index_select(0, index).MoveToOuterDisposeScope();          // (E', …)
    }
}
