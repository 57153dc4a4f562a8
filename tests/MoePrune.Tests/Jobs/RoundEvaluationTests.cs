using MoePrune.Evaluation;
using MoePrune.Evaluation.Kl;
using MoePrune.Jobs.Strategies;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Tests.Pruning;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Jobs;

/// <summary>The one-forward round evaluation against the evaluation harness's KL gate and the perplexity evaluator.</summary>
public class RoundEvaluationTests(ITestOutputHelper output)
{
    [Fact]
    public void PerplexityAndKlAgreeWithTheHarnessAndNoTensorIsLeft()
    {
        using var parent = TinyCheckpoint.Random(SurgerySupport.Config("mixtral"), seed: 12);
        using var pruned = ExpertSurgery.Apply(parent, ExpertPlan.Remove(parent.MoeLayers.ToDictionary(v => v.LayerIndex, v => (IReadOnlyList<int>)[v.LayerIndex % 8, 5])));
        var rng = new Random(3);
        var sequences = Enumerable.Range(0, 7).Select(i => Enumerable.Range(0, 5 + 3 * i).Select(_ => rng.Next(64)).ToArray()).ToList();
        var evaluation = new RoundEvaluation(sequences, "random", batchSize: 3) { Parent = parent };
        evaluation.Measure(pruned);                                                        // warm-up (lazy native state, parent cache)
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var record = evaluation.Measure(pruned);
        var self = evaluation.Measure(parent);
        evaluation.Dispose();
        long leaked = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;

        var kl = KlDivergence.Evaluate(pruned, parent, sequences, batchSize: 2);
        var ppl = Perplexity.Evaluate(pruned, sequences, batchSize: 4);
        double dPpl = Math.Abs((double)record["perplexity"]! - ppl.Perplexity) / ppl.Perplexity;
        double dKl = Math.Abs((double)record["kl"]!["mean"]! - kl.Mean);
        double dP99 = Math.Abs((double)record["kl"]!["p99"]! - kl.P99);
        output.WriteLine($"perplexity {record["perplexity"]} vs {ppl.Perplexity} (rel {dPpl:E2}); KL {record["kl"]!["mean"]} vs {kl.Mean} (|Δ| {dKl:E2}); " +
                         $"p99 |Δ| {dP99:E2}; top-1 {record["kl"]!["top1_agreement"]} vs {kl.Top1Agreement}; tensors left {leaked}");
        Assert.True(dPpl < 1e-5, $"perplexity differs by {dPpl}");
        Assert.True(dKl < 1e-6 && dP99 < 1e-5, $"KL differs by {dKl}, p99 by {dP99}");
        Assert.Equal(kl.Top1Agreement, (double)record["kl"]!["top1_agreement"]!, 12);
        Assert.Equal(kl.Positions, (int)record["kl"]!["positions"]!);
        Assert.Null(self["kl"]);                                                           // the parent is not compared with itself
        Assert.True(leaked <= 0, $"{leaked} tensors left after Measure and Dispose");
    }
}
