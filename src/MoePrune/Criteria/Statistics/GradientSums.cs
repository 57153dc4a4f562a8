using MoePrune.Observation;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Criteria.Statistics;

/// <summary>
/// Per expert, the sum over <see cref="AddGradients"/> calls of its gradient [∂gate | ∂up | ∂down] flattened,
/// fp32 (the gradient-guided criteria). Memory E × 3·I·H floats; never kept per source. The sizes are taken
/// from the first gradients added.
/// </summary>
public sealed class GradientSums : IGradientStatistic
{
    public static readonly StatisticKind Kind = new("gradients", "gradients", new(ObserverNeeds.Routing, Gradients: true), PerSource: false,
        c => new GradientSums(c.LayerIndex, c.NumExperts),
        r => Read(r));

    StatisticKind ILayerStatistic.Kind => Kind;

    public int LayerIndex { get; }
    public int NumExperts { get; }
    /// <summary>Per expert (3·I·H) summed gradient; null until the first gradients are added.</summary>
    public float[][]? Sums { get; private set; }
    public int IntermediateSize { get; private set; }
    public int HiddenSize { get; private set; }
    /// <summary>Number of <see cref="AddGradients"/> calls summed.</summary>
    public long Steps { get; set; }

    public GradientSums(int layerIndex, int numExperts)
    {
        LayerIndex = layerIndex;
        NumExperts = numExperts;
    }

    /// <summary>True once sizes are known (gradients were added or read).</summary>
    public bool HasValues => Sums is not null;

    /// <summary>Allocates zero sums of experts of (I, H) (a no-op when already allocated with these sizes).</summary>
    public void Allocate(int intermediateSize, int hiddenSize)
    {
        if (Sums is not null)
        {
            if (intermediateSize != IntermediateSize || hiddenSize != HiddenSize)
                throw new MoePruneException($"layer {LayerIndex}: gradient sizes {intermediateSize}×{hiddenSize} differ from the statistics' {IntermediateSize}×{HiddenSize}");
            return;
        }
        IntermediateSize = intermediateSize;
        HiddenSize = hiddenSize;
        Sums = Enumerable.Range(0, NumExperts).Select(_ => new float[3L * intermediateSize * hiddenSize]).ToArray();
    }

    public void Add(RoutingEvent e) { }

    /// <summary>
    /// Adds each expert's current gradient (fp32). An expert without a gradient (never routed in the pass) adds
    /// zeros; returns false (and counts no step) when no expert of the layer has one.
    /// </summary>
    public bool AddGradients(IMoeLayerView view)
    {
        Allocate(view.ExpertIntermediateSize, view.HiddenSize);
        int seen = 0;
        for (int e = 0; e < NumExperts; e++)
            seen += AddExpertGradient(Sums![e], view, e) ? 1 : 0;
        if (seen == 0) return false;
        Steps++;
        return true;
    }

    private static bool AddExpertGradient(float[] into, IMoeLayerView view, int e)
    {
        var parts = new[] { view.GateProjGrad(e), view.UpProjGrad(e), view.DownProjGrad(e) };
        if (parts.All(p => p is null)) return false;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var flat = parts.Select(g => g is null
                ? torch.zeros((long)view.ExpertIntermediateSize * view.HiddenSize, ScalarType.Float32)                           // (I·H) missing part counts as 0
                : g.detach().to(ScalarType.Float32).reshape(-1))                            // (I·H) flattened gradient
            .ToArray();
        var all = TensorData.Floats(torch.cat(flat));                                        // (3·I·H) [∂gate | ∂up | ∂down]
        if (all.Length != into.Length)
            throw new MoePruneException($"layer {view.LayerIndex} expert {e}: gradient has {all.Length} values, expected {into.Length}");
        for (int i = 0; i < into.Length; i++) into[i] += all[i];
        return true;
    }

    public void MergeFrom(ILayerStatistic other)
    {
        var o = (GradientSums)other;
        if (o.Sums is null) return;
        Allocate(o.IntermediateSize, o.HiddenSize);
        for (int e = 0; e < NumExperts; e++)
        {
            var a = Sums![e];
            var b = o.Sums[e];
            for (int i = 0; i < a.Length; i++) a[i] += b[i];
        }
        Steps += o.Steps;
    }

    public ILayerStatistic EmptyLike()
    {
        var s = new GradientSums(LayerIndex, NumExperts);
        if (Sums is not null) s.Allocate(IntermediateSize, HiddenSize);
        return s;
    }

    public void Write(StatisticWriter w)
    {
        w.Size("intermediate_size", IntermediateSize);
        w.Size("hidden_size", HiddenSize);
        w.Size("steps", Steps);
        if (Sums is null) return;
        for (int e = 0; e < NumExperts; e++) w.Floats($"expert.{e}", Sums[e]);
    }

    private static GradientSums Read(StatisticReader r)
    {
        var c = r.Context;
        var s = new GradientSums(c.LayerIndex, c.NumExperts) { Steps = r.Size("steps") };
        int i = r.IntSize("intermediate_size"), h = r.IntSize("hidden_size");
        if (i == 0 && h == 0) return s;
        s.Allocate(i, h);
        for (int e = 0; e < c.NumExperts; e++)
            r.Floats($"expert.{e}", 3L * i * h).CopyTo(s.Sums![e], 0);
        return s;
    }
}
