using MoePrune.Models;
using MoePrune.Observation;
using MoePrune.Tests.Pruning;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Observation;

/// <summary>
/// Routing visibility: statistics an observer accumulates from the events equal the same statistics
/// recomputed naively (float64, per token) from the stored MoE inputs; padding is never reported; gradients
/// read through <see cref="IMoeLayerView"/> are the parameters' own <c>.grad</c>.
/// </summary>
public class RoutingStatisticsTests(ITestOutputHelper output)
{
    /// <summary>Per layer: tokens routed to each expert and the sum of the L2 norms of its (ungated) outputs.</summary>
    private sealed class CountingObserver : IMoeObserver
    {
        public ObserverNeeds Needs => ObserverNeeds.ExpertOutputs;
        public Dictionary<int, long[]> Counts { get; } = [];
        public Dictionary<int, double[]> NormSums { get; } = [];

        public void OnRouting(RoutingEvent e)
        {
            if (!Counts.ContainsKey(e.LayerIndex)) { Counts[e.LayerIndex] = new long[e.NumExperts]; NormSums[e.LayerIndex] = new double[e.NumExperts]; }
            for (int x = 0; x < e.NumExperts; x++)
            {
                Counts[e.LayerIndex][x] += e.ExpertRows[x].shape[0];
                NormSums[e.LayerIndex][x] += e.ExpertOutputs![x].to(ScalarType.Float64).norm(1).sum().item<double>();
            }
        }
    }

    /// <summary>Stores each layer's MoE input rows (N, H) and token ids (N), copied out of the forward's dispose scopes.</summary>
    private sealed class StoringObserver : IMoeObserver
    {
        public ObserverNeeds Needs => ObserverNeeds.Routing;
        public List<(int Layer, Tensor Hidden, long[] TokenIds)> Stored { get; } = [];

        public void OnRouting(RoutingEvent e) =>
            Stored.Add((e.LayerIndex, e.Hidden.detach().clone().DetachFromDisposeScope(), e.TokenIds.data<long>().ToArray()));
    }

    [Theory]
    [InlineData("qwen2_moe")]
    [InlineData("mixtral")]
    public void ObserverStatisticsEqualNaiveRecomputationOverPaddedBatches(string family)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var model = TinyCheckpoint.Random(SurgerySupport.Config(family), seed: 21);
        var counting = new CountingObserver();
        var storing = new StoringObserver();
        model.Observers.Add(counting);
        model.Observers.Add(storing);
        var expectedIds = new List<long>();
        for (int batch = 0; batch < 3; batch++)
        {
            var (ids, mask) = SurgerySupport.PaddedBatch(seed: 30 + batch);
            model.forward(new CausalLMInput(ids, mask));
            expectedIds.AddRange(ids.reshape(-1).index_select(0, mask.reshape(-1).nonzero().reshape(-1)).data<long>().ToArray());
        }

        var layers = model.MoeLayers.ToDictionary(l => l.LayerIndex);
        Assert.Equal(layers.Keys.Order(), counting.Counts.Keys.Order());                // dense layers report nothing
        foreach (var (index, view) in layers)
        {
            var stored = storing.Stored.Where(s => s.Layer == index).ToList();
            Assert.Equal(3, stored.Count);
            using var disposeStored = new DisposeList(stored.Select(s => s.Hidden));
            Assert.Equal(expectedIds, stored.SelectMany(s => s.TokenIds));             // exactly the real tokens, in order
            var (counts, norms) = Naive(view, stored.Select(s => s.Hidden).ToList());
            Assert.Equal(counts, counting.Counts[index]);
            double rel = norms.Zip(counting.NormSums[index]).Max(p => Math.Abs(p.First - p.Second) / Math.Max(1, Math.Abs(p.First)));
            output.WriteLine($"{family} layer {index}: counts [{string.Join(", ", counts)}], max rel diff of norm sums {rel:E2}");
            Assert.True(rel <= 1e-4, $"norm sums differ by {rel:E2}");
        }
    }

    /// <summary>Per token in float64: top-k of the router logits (= of the softmax; gates do not enter counts or ungated norms), and for each chosen expert ‖down(silu(gate x)·up x)‖.</summary>
    private static (long[] Counts, double[] NormSums) Naive(IMoeLayerView view, List<Tensor> inputs)
    {
        var counts = new long[view.NumExperts];
        var norms = new double[view.NumExperts];
        var router = view.RouterWeight.to(ScalarType.Float64);                         // (E, H)
        foreach (var hidden in inputs)
        {
            var x64 = hidden.to(ScalarType.Float64);                                     // (N, H)
            for (long t = 0; t < x64.shape[0]; t++)
            {
                var xt = x64[t];                                                         // (H)
                var logits = matmul(router, xt).data<double>().ToArray();                // (E)
                var chosen = Enumerable.Range(0, view.NumExperts).OrderByDescending(e => logits[e]).Take(view.TopK);
                foreach (var e in chosen)
                {
                    var act = nn.functional.silu(matmul(view.GateProj(e).to(ScalarType.Float64), xt))
                              * matmul(view.UpProj(e).to(ScalarType.Float64), xt);     // (I)
                    var y = matmul(view.DownProj(e).to(ScalarType.Float64), act);        // (H)
                    counts[e]++;
                    norms[e] += y.norm().item<double>();
                }
            }
        }
        return (counts, norms);
    }

    private sealed class DisposeList(IEnumerable<Tensor> tensors) : IDisposable
    {
        private readonly List<Tensor> _tensors = tensors.ToList();
        public void Dispose() { foreach (var t in _tensors) t.Dispose(); }
    }

    [Fact]
    public void GradientsThroughTheLayerViewAreTheParametersGrad()
    {
        using var scope = NewDisposeScope();
        using var model = TinyCheckpoint.Random(SurgerySupport.Config("olmoe"), seed: 4);
        var (ids, mask) = SurgerySupport.PaddedBatch(seed: 3);
        Assert.All(model.MoeLayers, v => Assert.Null(v.RouterWeightGrad));
        var logits = model.Logits(ids, mask);                                            // (B, T, V)
        SurgerySupport.RealRows(logits, mask).pow(2).mean().backward();
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        int nonZero = 0;
        foreach (var view in model.MoeLayers)
        {
            string prefix = $"model.layers.{view.LayerIndex}.mlp.";
            Assert.NotNull(view.RouterWeightGrad);
            AssertSameGrad(parameters[prefix + "gate.weight"].grad, view.RouterWeightGrad);
            for (int e = 0; e < view.NumExperts; e++)
            {
                AssertSameGrad(parameters[$"{prefix}experts.{e}.gate_proj.weight"].grad, view.GateProjGrad(e));
                AssertSameGrad(parameters[$"{prefix}experts.{e}.up_proj.weight"].grad, view.UpProjGrad(e));
                AssertSameGrad(parameters[$"{prefix}experts.{e}.down_proj.weight"].grad, view.DownProjGrad(e));
                if (view.DownProjGrad(e) is { } g && g.abs().max().item<float>() > 0) nonZero++;
            }
        }
        output.WriteLine($"{nonZero} experts received a non-zero down_proj gradient");
        Assert.True(nonZero > 0);
    }

    /// <summary>Both null (an expert no token reached has no gradient) or the same values.</summary>
    private static void AssertSameGrad(Tensor? expected, Tensor? viaView)
    {
        Assert.Equal(expected is null, viaView is null);
        if (expected is null) return;
        Assert.Equal(expected!.shape, viaView!.shape);
        Assert.True(expected.equal(viaView).all().item<bool>());
    }
}
