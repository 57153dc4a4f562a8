using MoePrune.Models;
using MoePrune.Observation;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Models;

/// <summary>The batched, expert-grouped MoE dispatch against a naive per-token, per-expert loop written here.</summary>
public class SparseMoeBlockTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("mixtral")]
    [InlineData("qwen2_moe")]
    [InlineData("qwen3_moe")]
    [InlineData("olmoe")]
    public void BatchedDispatchEqualsNaivePerTokenLoop(string family)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var model = TinyCheckpoint.Random(TinyCheckpoint.Config(family, hidden: 32, experts: 6, topK: 2, expertSize: 24), seed: 3);
        var block = (SparseMoeBlock)model.MoeLayers[0];
        var x = randn(37, 32, generator: new Generator(5));                            // (N, H)

        var batched = block.forward(new MoeBlockInput(x)).Hidden;                      // (N, H)
        var naive = NaiveMoe(block, x, model.Config.NormTopKProb);                     // (N, H)
        double diff = ModelFixtures.MaxAbsDiff(batched, naive);
        output.WriteLine($"{family}: max |batched − naive| = {diff:E2}");
        Assert.True(diff < 1e-5, $"batched and naive MoE differ by {diff:E2}");
    }

    [Fact]
    public void ForwardWithExpertsNeverUsesDroppedExperts()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var model = TinyCheckpoint.Random(TinyCheckpoint.Config("olmoe", hidden: 32, experts: 6, topK: 2, expertSize: 24), seed: 4);
        var block = (SparseMoeBlock)model.MoeLayers[0];
        var x = randn(20, 32, generator: new Generator(6));                            // (N, H)
        bool[] keep = [true, false, true, true, false, true];
        var got = block.ForwardWithExperts(x, keep);                                    // (N, H)

        // Naive: softmax over the kept experts only (dropped logits are −inf), top-k among them.
        var expected = NaiveMoe(block, x, false, keep);
        double diff = ModelFixtures.MaxAbsDiff(got, expected);
        output.WriteLine($"ForwardWithExperts: max diff vs naive = {diff:E2}");
        Assert.True(diff < 1e-5);
        Assert.Throws<MoePruneException>(() => block.ForwardWithExperts(x, [true, false, false, false, false, false]));
    }

    [Fact]
    public void ObserverSeesEveryAssignmentGroupedByExpertInTokenOrder()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var model = TinyCheckpoint.Random(TinyCheckpoint.Config("qwen2_moe", hidden: 32, experts: 6, topK: 2, expertSize: 24), seed: 7);
        var observer = new RecordingObserver(ObserverNeeds.All);
        model.Observers.Add(observer);
        var ids = tensor(new long[,] { { 5, 6, 7, 8, 9 }, { 10, 11, 12, 0, 0 } });     // (2, 5)
        var mask = tensor(new long[,] { { 1, 1, 1, 1, 1 }, { 1, 1, 1, 0, 0 } });       // right padding
        model.forward(new CausalLMInput(ids, mask));

        Assert.Equal(model.MoeLayers.Count, observer.Events.Count);
        var first = observer.Events[0];
        Assert.Equal(new long[] { 5, 6, 7, 8, 9, 10, 11, 12 }, first.TokenIds);       // padding not reported
        Assert.Equal(8 * 2, first.RowsPerExpert.Sum(r => r.Length));
        foreach (var rows in first.RowsPerExpert)
            Assert.True(rows.SequenceEqual(rows.Order()), "rows of an expert are in token order");
        for (int e = 0; e < 6; e++)
            foreach (var row in first.RowsPerExpert[e])
                Assert.Contains((long)e, first.TopK[row]);
        Assert.Equal(first.RowsPerExpert.Select(r => (long)r.Length), first.IntermediateRows);

        model.Observers.Clear();
        observer.Events.Clear();
        model.forward(new CausalLMInput(ids, mask));
        Assert.Empty(observer.Events);
    }

    /// <summary>Per token: softmax over the (kept) experts, top-k, optional renormalisation, Σ w·expert(x), plus shared expert.</summary>
    internal static Tensor NaiveMoe(SparseMoeBlock block, Tensor x, bool renormalize, bool[]? keep = null)
    {
        long n = x.shape[0];
        var rows = new List<Tensor>();
        for (long t = 0; t < n; t++)
        {
            var xt = x[t].unsqueeze(0);                                                 // (1, H)
            var logits = matmul(xt, block.RouterWeight.t())[0];                         // (E)
            var probs = new double[block.NumExperts];
            double denom = 0;
            for (int e = 0; e < block.NumExperts; e++)
                if (keep is null || keep[e]) denom += Math.Exp(logits[e].item<float>());
            for (int e = 0; e < block.NumExperts; e++)
                probs[e] = keep is null || keep[e] ? Math.Exp(logits[e].item<float>()) / denom : -1;
            var chosen = Enumerable.Range(0, block.NumExperts).OrderByDescending(e => probs[e]).Take(block.TopK).ToArray();
            double sum = chosen.Sum(e => probs[e]);
            var y = zeros_like(xt);
            foreach (var e in chosen)
            {
                var h = nn.functional.silu(matmul(xt, block.GateProj(e).t())) * matmul(xt, block.UpProj(e).t());
                double w = renormalize ? probs[e] / sum : probs[e];
                y = y + w * matmul(h, block.DownProj(e).t());
            }
            if (block.SharedExpert is { } shared)
                y = y + (SharedGate(block) is { } g ? sigmoid(matmul(xt, g.t())) : ones(1, 1)) * shared.forward(xt);
            rows.Add(y);
        }
        return cat(rows, 0);
    }

    /// <summary>The (1, H) shared-expert gate, or null for an ungated shared expert.</summary>
    static Tensor? SharedGate(SparseMoeBlock block) =>
        block.named_parameters().SingleOrDefault(p => p.name == "shared_expert_gate.weight").parameter;

    sealed class RecordingObserver(ObserverNeeds needs) : IMoeObserver
    {
        public ObserverNeeds Needs => needs;
        public List<Recorded> Events { get; } = [];

        public void OnRouting(RoutingEvent e)
        {
            Assert.NotNull(e.ExpertInputs);
            Assert.NotNull(e.ExpertIntermediates);
            Assert.NotNull(e.ExpertOutputs);
            Events.Add(new Recorded(
                e.TokenIds.data<long>().ToArray(),
                e.ExpertRows.Select(r => r.data<long>().ToArray()).ToArray(),
                Enumerable.Range(0, (int)e.TopKIndices.shape[0]).Select(i => e.TopKIndices[i].data<long>().ToArray()).ToArray(),
                e.ExpertIntermediates!.Select(t => t.shape[0]).ToArray()));
        }
    }

    sealed record Recorded(long[] TokenIds, long[][] RowsPerExpert, long[][] TopK, long[] IntermediateRows);
}
