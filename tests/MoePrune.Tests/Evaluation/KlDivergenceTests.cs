using MoePrune.Evaluation.Kl;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Evaluation;

/// <summary>The KL gate against a float64 computation written here, and of a model against itself.</summary>
public sealed class KlDivergenceTests(ITestOutputHelper output)
{
    static List<int[]> Sequences()
    {
        var rng = new Random(8);
        return new[] { 9, 4, 13, 2, 7 }.Select(n => EvalFixtures.RandomIds(rng, n, 64)).ToList();
    }

    [Fact]
    public void AModelAgainstItselfHasZeroKlAndFullAgreement()
    {
        using var model = EvalFixtures.Tiny(seed: 1);
        var r = KlDivergence.Evaluate(model, model, Sequences(), batchSize: 2);
        Assert.Equal(8 + 3 + 12 + 1 + 6, r.Positions);
        Assert.True(Math.Abs(r.Mean) < 1e-7 && Math.Abs(r.P99) < 1e-7, $"mean {r.Mean} p99 {r.P99}");
        Assert.Equal(1.0, r.Top1Agreement);
        Assert.Equal(r.ReferencePerplexity, r.Perplexity);
    }

    [Fact]
    public void ATinyPairMatchesAFloat64Computation()
    {
        using var model = EvalFixtures.Tiny(seed: 1);
        using var parent = EvalFixtures.Tiny(seed: 1);
        using (no_grad())
        using (var generator = new Generator(5))
            foreach (var p in parent.parameters()) p.add_(0.3 * randn(p.shape, generator: generator) * p.std());   // a perturbed copy: some agreement
        var sequences = Sequences();
        var r = KlDivergence.Evaluate(model, parent, sequences, batchSize: 3, positionsPerChunk: 5);

        var kls = new List<double>();
        int agree = 0;
        double nll = 0, parentNll = 0;
        foreach (var s in sequences)
        {
            var q = EvalFixtures.LogSoftmax(model, s);
            var p = EvalFixtures.LogSoftmax(parent, s);
            for (int t = 0; t + 1 < s.Length; t++)
            {
                kls.Add(p[t].Select((lp, v) => Math.Exp(lp) * (lp - q[t][v])).Sum());
                agree += Array.IndexOf(q[t], q[t].Max()) == Array.IndexOf(p[t], p[t].Max()) ? 1 : 0;
                nll -= q[t][s[t + 1]];
                parentNll -= p[t][s[t + 1]];
            }
        }
        var sorted = kls.Order().ToArray();
        double rank = 0.99 * (sorted.Length - 1);
        int lo = (int)rank;
        double p99 = sorted[lo] + (rank - lo) * (sorted[Math.Min(lo + 1, sorted.Length - 1)] - sorted[lo]);
        output.WriteLine($"mean {r.Mean:F6} vs {kls.Average():F6}; p99 {r.P99:F6} vs {p99:F6}; top1 {r.Top1Agreement} vs {agree}/{kls.Count}; ppl {r.Perplexity:F4} vs {Math.Exp(nll / kls.Count):F4}");
        Assert.Equal(kls.Count, r.Positions);
        Assert.True(kls.Average() > 1e-3, "the pair should differ");
        Assert.InRange(r.Top1Agreement, 0.05, 0.95);
        Assert.Equal(kls.Average(), r.Mean, 5);
        Assert.Equal(p99, r.P99, 4);
        Assert.Equal(agree / (double)kls.Count, r.Top1Agreement, 12);
        Assert.True(Math.Abs(r.Perplexity / Math.Exp(nll / kls.Count) - 1) < 1e-6);
        Assert.True(Math.Abs(r.ReferencePerplexity / Math.Exp(parentNll / kls.Count) - 1) < 1e-6);
    }

    [Fact]
    public void ModelsWithOtherVocabulariesAreRefused()
    {
        using var model = EvalFixtures.Tiny(vocab: 64);
        using var parent = EvalFixtures.Tiny(vocab: 80);
        var e = Assert.Throws<MoePruneException>(() => KlDivergence.Evaluate(model, parent, Sequences()));
        Assert.Contains("vocabulary", e.Message);
    }

    [Fact]
    public void TheGateLeavesNoTensorsBehind()
    {
        using var model = EvalFixtures.Tiny(seed: 1);
        using var parent = EvalFixtures.Tiny(seed: 2);
        KlDivergence.Evaluate(model, parent, Sequences(), 2);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        KlDivergence.Evaluate(model, parent, Sequences(), 2);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
