using MoePrune.Native;
using MoePrune.Observation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Tests.Criteria;

/// <summary>
/// A naive Mixtral-style sparse-MoE block for tests: softmax → top-k → (optionally) renormalise,
/// SwiGLU experts, one expert at a time. Weights are trainable Parameters so gradients exist after backward.
/// </summary>
internal sealed class FakeMoeLayer : IMoeLayerView
{
    private readonly Parameter _router;
    private readonly Parameter[] _gate, _up, _down;
    private readonly bool _renormalize;

    public FakeMoeLayer(int layerIndex, int experts, int topK, int hidden, int intermediate, int seed, bool renormalize = true)
    {
        TorchNative.EnsureLoaded();
        LayerIndex = layerIndex;
        NumExperts = experts;
        TopK = topK;
        HiddenSize = hidden;
        ExpertIntermediateSize = intermediate;
        _renormalize = renormalize;
        var rng = new Random(seed);
        Parameter P(long rows, long cols, double scale) => new(
            torch.tensor(Enumerable.Range(0, (int)(rows * cols)).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray(), [rows, cols]));
        _router = P(experts, hidden, 1.0);
        _gate = Enumerable.Range(0, experts).Select(_ => P(intermediate, hidden, 0.5)).ToArray();
        _up = Enumerable.Range(0, experts).Select(_ => P(intermediate, hidden, 0.5)).ToArray();
        _down = Enumerable.Range(0, experts).Select(_ => P(hidden, intermediate, 0.5)).ToArray();
    }

    public int LayerIndex { get; }
    public int NumExperts { get; }
    public int TopK { get; }
    public int HiddenSize { get; }
    public int ExpertIntermediateSize { get; }
    public Tensor RouterWeight => _router;
    public Tensor GateProj(int expert) => _gate[expert];
    public Tensor UpProj(int expert) => _up[expert];
    public Tensor DownProj(int expert) => _down[expert];
    public Tensor? RouterWeightGrad => _router.grad;
    public Tensor? GateProjGrad(int expert) => _gate[expert].grad;
    public Tensor? UpProjGrad(int expert) => _up[expert].grad;
    public Tensor? DownProjGrad(int expert) => _down[expert].grad;

    /// <summary>Overwrites weights in place (planted cases).</summary>
    public void Set(Action<Parameter, Parameter[], Parameter[], Parameter[]> edit)
    {
        using var noGrad = torch.no_grad();
        edit(_router, _gate, _up, _down);
    }

    public void ZeroGrad()
    {
        foreach (var p in new[] { _router }.Concat(_gate).Concat(_up).Concat(_down))
            p.grad?.zero_();
    }

    public Tensor ForwardWithExperts(Tensor hidden, IReadOnlyList<bool> keep)
    {
        using var noGrad = torch.no_grad();
        return Forward(hidden, null, null, keep);
    }

    /// <summary>Routes (N, H) hidden rows of tokens <paramref name="tokenIds"/>, reporting to the observer.</summary>
    public Tensor Forward(Tensor hidden, long[]? tokenIds, IMoeObserver? observer, IReadOnlyList<bool>? keep = null)
    {
        using var scope = torch.NewDisposeScope();
        long n = hidden.shape[0];
        var logits = hidden.mm(_router.t());                                              // (N, E) router logits
        if (keep is not null)
        {
            var mask = torch.tensor(keep.Select(k => !k).ToArray());                        // (E) true = removed
            logits = logits.masked_fill(mask.unsqueeze(0), float.NegativeInfinity);
        }
        var probs = logits.softmax(1);                                                     // (N, E)
        var (weights, indices) = probs.topk(TopK, 1);                                      // (N, k) gates, chosen experts
        if (_renormalize) weights = weights / weights.sum(1, keepdim: true);
        var output = torch.zeros_like(hidden);                                             // (N, H)
        var rows = new Tensor[NumExperts];
        var gates = new Tensor[NumExperts];
        var outs = new Tensor[NumExperts];
        for (int e = 0; e < NumExperts; e++)
        {
            var hit = indices.eq(e);                                                       // (N, k)
            rows[e] = hit.any(1).nonzero().reshape(-1);                                    // (n_e) ascending rows
            gates[e] = (weights * hit).sum(1).index_select(0, rows[e]);                    // (n_e)
            var x = hidden.index_select(0, rows[e]);                                       // (n_e, H)
            outs[e] = (nn.functional.silu(x.mm(_gate[e].t())) * x.mm(_up[e].t())).mm(_down[e].t()); // (n_e, H)
            output = output.index_add(0, rows[e], outs[e] * gates[e].unsqueeze(1), 1.0);
        }
        if (observer is not null)
        {
            bool wantOut = observer.Needs.HasFlag(ObserverNeeds.ExpertOutputs);
            observer.OnRouting(new RoutingEvent
            {
                LayerIndex = LayerIndex, NumExperts = NumExperts, TopK = TopK,
                RouterLogits = logits.detach(), TopKIndices = indices, TopKWeights = weights.detach(),
                TokenIds = torch.tensor(tokenIds!), Hidden = hidden.detach(),
                ExpertRows = rows, ExpertGates = gates.Select(g => g.detach()).ToArray(),
                ExpertOutputs = wantOut ? outs.Select(o => o.detach()).ToArray() : null,
            });
        }
        return output.MoveToOuterDisposeScope();
    }
}
