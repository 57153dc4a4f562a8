using MoePrune.Observation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Models;

/// <summary>MoE block inputs: N routed rows (N, H) (padding already removed) and their token ids (N), int64 (−1 when unknown).</summary>
public sealed record MoeBlockInput(Tensor Hidden, Tensor? TokenIds = null);

/// <summary>MoE block outputs: (N, H) in the model dtype and the router logits (N, E) in the model dtype (fp32 where the family routes in fp32).</summary>
public sealed record MoeBlockOutput(Tensor Hidden, Tensor RouterLogits);

/// <summary>
/// The sparse MoE block (HF <c>MixtralSparseMoeBlock</c> / <c>Qwen2MoeSparseMoeBlock</c> / …): the
/// <see cref="Router"/> <c>gate</c>, routed <c>experts</c>, and where the family has one a shared expert
/// (<see cref="SharedExpertSpec"/>; Qwen2-MoE: <c>shared_expert</c> scaled by sigmoid(<c>shared_expert_gate</c>)).
/// Tokens are grouped by expert; each expert runs one batched MLP over its rows and the weighted outputs are
/// put back in token order. Observers attached to the model receive a <see cref="RoutingEvent"/>; with none
/// attached nothing extra is computed.
/// </summary>
public sealed class SparseMoeBlock : nn.Module<MoeBlockInput, MoeBlockOutput>, IMoeLayerView
{
    private readonly Router _gate;
    private readonly ModuleList<SwiGluMlp> _experts;
    private readonly SwiGluMlp? _sharedExpert;
    private readonly EmptyLinear? _sharedExpertGate;
    private readonly IReadOnlyList<IMoeObserver> _observers;

    public SparseMoeBlock(MoeConfig config, int layerIndex, IReadOnlyList<IMoeObserver> observers, ScalarType dtype, Device device)
        : base(nameof(SparseMoeBlock))
    {
        var family = config.Family;
        LayerIndex = layerIndex;
        NumExperts = config.ExpertsInLayer(layerIndex);
        TopK = config.TopK;
        HiddenSize = config.HiddenSize;
        ExpertIntermediateSize = config.ExpertIntermediateSize;
        RoutingGroups = config.Groups.IsGroupLimited ? config.Groups.NGroup : 1;
        _observers = observers;
        _gate = new Router(HiddenSize, NumExperts, family.CreateRouting(config), family.RouterScoreCorrectionBias, dtype, device,
                           family.RouterInFloat32);
        _experts = new ModuleList<SwiGluMlp>(Enumerable.Range(0, NumExperts)
            .Select(_ => new SwiGluMlp(HiddenSize, ExpertIntermediateSize, family.ExpertProjNames, dtype, device)).ToArray());
        register_module(Router.ModuleName, _gate);
        register_module("experts", _experts);
        if (family.SharedExpert is { } shared)
        {
            _sharedExpert = new SwiGluMlp(HiddenSize, config.SharedExpertIntermediateSize, shared.ProjNames, dtype, device);
            register_module(shared.ModuleName, _sharedExpert);
            if (shared.GateName is not null)
            {
                _sharedExpertGate = new EmptyLinear(HiddenSize, 1, false, dtype, device);
                register_module(shared.GateName, _sharedExpertGate);
            }
        }
    }

    public int LayerIndex { get; }
    public int NumExperts { get; }
    public int TopK { get; }
    public int HiddenSize { get; }
    public int ExpertIntermediateSize { get; }
    public int RoutingGroups { get; }
    public Router Router => _gate;
    public IReadOnlyList<SwiGluMlp> Experts => _experts.ToArray();
    public SwiGluMlp? SharedExpert => _sharedExpert;
    /// <summary>The shared expert's scalar gate (Qwen2-MoE <c>shared_expert_gate</c>), or null when ungated or absent.</summary>
    public EmptyLinear? SharedExpertGate => _sharedExpertGate;

    /// <summary>
    /// Virtual pruning: an optional (E) bool of the experts that may be chosen. The others are −inf before the
    /// routing (softmax logits, or sigmoid routing's corrected scores), so they are neither chosen nor counted in
    /// their group's score under group-limited routing, and the block computes exactly what the model with those
    /// experts removed by surgery computes (same routing weights, same outputs; with groups, when the removal is
    /// group-balanced), without building it — iterative studies evaluate candidate masks this way. Null = all
    /// experts. Router logits returned and seen by observers stay raw (E wide).
    /// </summary>
    public Tensor? ExpertMask { get; set; }

    public override MoeBlockOutput forward(MoeBlockInput input)
    {
        using var scope = NewDisposeScope();
        var x = input.Hidden;                                                      // (N, H)
        var logits = _gate.forward(x);                                             // (N, E) model dtype
        var decision = _gate.Route(logits, ExpertMask);                            // (N, k) fp32, (N, k) int64
        Tensor? tokenIds = null;                                                   // (N) int64, only when observed
        if (_observers.Count > 0) tokenIds = input.TokenIds ?? full(x.shape[0], Scalars.Of(-1L), ScalarType.Int64, x.device);
        var y = Dispatch(x, decision, tokenIds, logits);                           // (N, H)
        return new MoeBlockOutput(y.MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public Tensor ForwardWithExperts(Tensor hidden, IReadOnlyList<bool> keep)
    {
        if (keep.Count != NumExperts)
            throw new MoePruneException($"layer {LayerIndex}: keep has {keep.Count} entries for {NumExperts} experts");
        if (keep.Count(k => k) < TopK)
            throw new MoePruneException($"layer {LayerIndex}: keeping {keep.Count(k => k)} experts, fewer than top-k = {TopK}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mask = tensor(keep.ToArray(), device: hidden.device);                  // (E) bool
        var decision = _gate.Route(_gate.forward(hidden), mask);                   // (N, k)
        return Dispatch(hidden, decision, null, null).MoveToOuterDisposeScope();   // (N, H)
    }

    /// <summary>Runs the routed experts (and the shared expert) for a decision; reports to observers when tokenIds is given.</summary>
    private Tensor Dispatch(Tensor x, RoutingDecision decision, Tensor? tokenIds, Tensor? logits)
    {
        var groups = ExpertGroups.Build(decision, NumExperts);
        var gates = groups.Gates.to(x.dtype);                                      // (N·k) model dtype
        var needs = tokenIds is null ? ObserverNeeds.Routing : _observers.Aggregate(ObserverNeeds.Routing, (a, o) => a | o.Needs);
        var capture = needs == ObserverNeeds.Routing ? null : new ExpertCapture(NumExperts, needs);
        var pieces = new List<Tensor>(NumExperts);
        for (int e = 0; e < NumExperts; e++)
        {
            if (groups.Counts[e] == 0) { capture?.AddEmpty(x, _experts[e].Intermediate); continue; }
            var rows = groups.RowsOf(e);                                           // (n_e)
            var xe = x.index_select(0, rows);                                      // (n_e, H)
            var act = _experts[e].Activation(xe);                                  // (n_e, I)
            var ye = _experts[e].DownProj.forward(act);                            // (n_e, H)
            capture?.Add(xe, act, ye);
            // python: current_hidden_states = expert_layer(current_state) * routing_weights[top_x, idx, None]
            var gate = gates.narrow(0, groups.Offsets[e], groups.Counts[e]).unsqueeze(1); // (n_e, 1)
            pieces.Add(capture is null && !ye.requires_grad ? ye.mul_(gate) : ye * gate); // (n_e, H)
        }
        // HF adds each expert's rows into a zero tensor with index_add_ (one small add per row on the CPU);
        // here the slots are put back in (token, choice) order with one gather and the k choices summed.
        long n = x.shape[0], k = decision.Indices.shape[1], h = x.shape[1];
        var output = n == 0
            ? zeros_like(x)                                                        // (0, H)
            : cat(pieces, 0).index_select(0, groups.Inverse).view(n, k, h).sum(1); // (N, H)
        if (_sharedExpert is not null)
        {
            var shared = _sharedExpert.forward(x);                                  // (N, H)
            if (_sharedExpertGate is not null)
                shared = _sharedExpertGate.forward(x).sigmoid() * shared;           // (N, 1) · (N, H)
            output = output + shared;                                               // (N, H)
        }
        if (tokenIds is not null) Report(x, decision, groups, tokenIds, logits!, capture);
        return output;
    }

    private void Report(Tensor x, RoutingDecision decision, ExpertGroups groups, Tensor tokenIds, Tensor logits, ExpertCapture? capture)
    {
        var e = new RoutingEvent
        {
            LayerIndex = LayerIndex,
            NumExperts = NumExperts,
            TopK = TopK,
            RouterLogits = logits.to(ScalarType.Float32),                         // (N, E) fp32
            TopKIndices = decision.Indices,                                        // (N, k)
            TopKWeights = decision.Weights,                                        // (N, k) fp32
            TokenIds = tokenIds,                                                   // (N)
            Hidden = x,                                                            // (N, H)
            ExpertRows = Enumerable.Range(0, NumExperts).Select(groups.RowsOf).ToArray(),
            ExpertGates = Enumerable.Range(0, NumExperts).Select(groups.GatesOf).ToArray(),
            ExpertInputs = capture?.Inputs,
            ExpertIntermediates = capture?.Intermediates,
            ExpertOutputs = capture?.Outputs,
        };
        foreach (var observer in _observers) observer.OnRouting(e);
    }

    // IMoeLayerView: live parameters and their gradients.
    public Tensor RouterWeight => _gate.Weight;
    public Tensor GateProj(int expert) => _experts[expert].GateProj.Weight;
    public Tensor UpProj(int expert) => _experts[expert].UpProj.Weight;
    public Tensor DownProj(int expert) => _experts[expert].DownProj.Weight;
    public Tensor? RouterWeightGrad => _gate.Weight.grad;
    public Tensor? GateProjGrad(int expert) => _experts[expert].GateProj.Weight.grad;
    public Tensor? UpProjGrad(int expert) => _experts[expert].UpProj.Weight.grad;
    public Tensor? DownProjGrad(int expert) => _experts[expert].DownProj.Weight.grad;
}
