using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Models;

/// <summary>
/// The router of a sparse block (HF <c>*TopKRouter</c>, registered as <c>gate</c>): it owns the router
/// parameters — <c>weight</c> (E, H) and, where the family asks (DeepSeek-V3), a per-expert
/// <c>e_score_correction_bias</c> (E), kept in fp32 whatever the model dtype (transformers'
/// <c>_keep_in_fp32_modules_strict</c>; the shipped files store it as F32) — and applies the family's
/// <see cref="IRoutingStrategy"/>. DeepSeek and GLM compute the logits from fp32 casts of the input and the weight.
/// Every router tensor has one row (dim 0) per routed expert; surgery gathers them with <see cref="SliceRows"/>.
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
    private readonly bool _logitsInFloat32;

    /// <param name="scoreCorrectionBias">Register <c>e_score_correction_bias</c> (E, fp32); it takes no gradient.</param>
    /// <param name="logitsInFloat32">Compute the logits from fp32 casts (DeepSeek, GLM) instead of in the model dtype.</param>
    public Router(int hidden, int experts, IRoutingStrategy routing, bool scoreCorrectionBias, ScalarType dtype, Device device,
                  bool logitsInFloat32 = false)
        : base(nameof(Router))
    {
        _routing = routing;
        _logitsInFloat32 = logitsInFloat32;
        _weight = new Parameter(empty(experts, hidden, dtype, device));                          // (E, H)
        if (scoreCorrectionBias)
            _scoreCorrectionBias = new Parameter(empty(experts, ScalarType.Float32, device), requires_grad: false); // (E) fp32
        RegisterComponents();
    }

    /// <summary>Parameter names under <c>gate</c> for a router with or without the bias (what <see cref="Families.ModelFamily.RouterTensorNames"/> lists).</summary>
    public static IReadOnlyList<string> ParameterNames(bool scoreCorrectionBias) =>
        scoreCorrectionBias ? ["weight", ScoreCorrectionBiasName] : ["weight"];

    /// <summary>(E, H)</summary>
    public Parameter Weight => _weight;
    /// <summary>(E) fp32, or null when the family has none.</summary>
    public Parameter? ScoreCorrectionBias => _scoreCorrectionBias;
    public IRoutingStrategy Routing => _routing;

    /// <summary>Router logits: (N, H) → (N, E) in the model dtype, or fp32 for families that route in fp32.</summary>
    public override Tensor forward(Tensor x)
    {
        if (!_logitsInFloat32 || (x.dtype == ScalarType.Float32 && _weight.dtype == ScalarType.Float32))
            return nn.functional.linear(x, _weight);
        using var scope = NewDisposeScope();
        // python: router_logits = F.linear(hidden_states.type(torch.float32), self.weight.type(torch.float32))
        return nn.functional.linear(x.to(ScalarType.Float32), _weight.to(ScalarType.Float32)).MoveToOuterDisposeScope(); // (N, E) fp32
    }

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
