using MoePrune.Models;
using MoePrune.Observation;
using MoePrune.Pruning.SemiStructured;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Pruning;

/// <summary>
/// 2:4 pruning of the experts: masks against hand-worked groups; Wanda's input norms against a recomputation from the
/// routing event's hidden rows and the expert's own weights; every group keeps exactly its top 2 by |W| (magnitude) or
/// |W| · ‖X_j‖ (Wanda), unchanged, and the rest of the model is untouched.
/// </summary>
public class TwoFourPruningTests(ITestOutputHelper output)
{
    [Fact]
    public void EachGroupOfFourKeepsItsTwoLargestScores()
    {
        using var score = tensor(new float[] { 4, 1, 3, 2, /**/ 0.1f, 0.4f, 0.3f, 0.2f, /**/ -1, 5, 6, 2, /**/ 7, 8, 1, 0 }, [2, 8]); // (2, 8)
        using var keep = TwoFourPruning.KeepMask(score);                                    // (2, 8)
        bool[] expected = [true, false, true, false, false, true, true, false, false, true, true, false, true, true, false, false];
        Assert.Equal(expected, keep.reshape(-1).data<bool>().ToArray());
        Assert.Throws<MoePruneException>(() => TwoFourPruning.KeepMask(zeros(2, 6)));
    }

    /// <summary>Keeps layer 0's routed hidden rows and top-k choices of every forward.</summary>
    sealed class Capture : IMoeObserver
    {
        public readonly List<(Tensor Hidden, Tensor TopK)> Events = [];
        public ObserverNeeds Needs => ObserverNeeds.Routing;
        public void OnRouting(RoutingEvent e)
        {
            if (e.LayerIndex == 0) Events.Add((e.Hidden.detach().clone().DetachFromDisposeScope(), e.TopKIndices.clone().DetachFromDisposeScope()));
        }
    }

    [Fact]
    public void WandaNormsMatchARecomputationAndBothMethodsKeepTheTopTwoOfEveryGroup()
    {
        using var model = TinyCheckpoint.Random(SurgerySupport.Config("mixtral"), seed: 4);
        using var copy = TinyCheckpoint.Random(SurgerySupport.Config("mixtral"), seed: 4);
        using var norms = new WandaNorms();
        var capture = new Capture();
        var (ids, mask) = SurgerySupport.PaddedBatch(5);
        model.Observers.Add(norms);
        model.Observers.Add(capture);
        using (inference_mode()) model.Logits(ids, mask).Dispose();
        model.Observers.Clear();

        using var noGrad = no_grad();
        var view = model.MoeLayers[0];
        const int expert = 3;
        var hidden = cat(capture.Events.Select(e => e.Hidden).ToArray(), 0).to(ScalarType.Float64);     // (N, H)
        var routed = cat(capture.Events.Select(e => e.TopK).ToArray(), 0).eq(expert).any(1);            // (N) bool
        var x = hidden.index_select(0, routed.nonzero().reshape(-1));                                   // (n, H)
        var g = view.GateProj(expert).to(ScalarType.Float64);                                           // (I, H)
        var u = view.UpProj(expert).to(ScalarType.Float64);                                             // (I, H)
        var h = nn.functional.silu(x.matmul(g.t())) * x.matmul(u.t());                                 // (n, I)
        var (input, inter) = norms.Norms(view.LayerIndex, expert, view.HiddenSize, view.ExpertIntermediateSize);
        double dInput = (input.to(ScalarType.Float64) - (x * x).sum(0).sqrt()).abs().max().item<double>();
        double dInter = (inter.to(ScalarType.Float64) - (h * h).sum(0).sqrt()).abs().max().item<double>();
        output.WriteLine($"expert {expert} of layer 0: {x.shape[0]} routed rows; max |Δ| input norms {dInput:E2}, intermediate norms {dInter:E2}");
        Assert.True(x.shape[0] > 0);
        Assert.True(dInput < 1e-4 && dInter < 1e-4, $"{dInput}, {dInter}");

        var weights = new[] { view.GateProj(expert).clone(), view.DownProj(expert).clone() };          // (I, H), (H, I)
        var attention = model.named_parameters().Where(p => p.name.Contains("self_attn") || p.name.Contains(".gate.")).ToDictionary(p => p.name, p => p.parameter.clone());
        var (zeroed, total) = TwoFourPruning.Apply(model, TwoFourMethod.Magnitude);
        var (wZeroed, wTotal) = TwoFourPruning.Apply(copy, TwoFourMethod.Wanda, norms);
        output.WriteLine($"magnitude zeroed {zeroed} of {total}; Wanda {wZeroed} of {wTotal}");
        Assert.Equal(total / 2, zeroed);
        Assert.Equal(wTotal / 2, wZeroed);
        foreach (var p in model.named_parameters().Where(p => attention.ContainsKey(p.name)))
            Assert.True(p.parameter.equal(attention[p.name]).all().item<bool>(), p.name);

        var cases = new[]
        {
            (Before: weights[0], After: view.GateProj(expert), Score: weights[0].abs()),
            (Before: weights[0], After: copy.MoeLayers[0].GateProj(expert), Score: weights[0].abs() * input.unsqueeze(0)),
            (Before: weights[1], After: copy.MoeLayers[0].DownProj(expert), Score: weights[1].abs() * inter.unsqueeze(0)),
        };
        foreach (var (before, after, score) in cases)
        {
            var groups = score.reshape(score.shape[0], -1, 4);                                    // (out, in/4, 4)
            var rank = groups.argsort(-1, descending: true).argsort(-1);                         // (out, in/4, 4) 0 = largest
            var expectedKeep = rank.lt(2).reshape(score.shape);                                   // (out, in)
            var kept = after.ne(0);
            Assert.True(kept.eq(expectedKeep).all().item<bool>(), "kept set differs from the top 2 by score");
            Assert.True(after.masked_select(kept).eq(before.masked_select(kept)).all().item<bool>(), "kept weights changed");
        }
    }
}
