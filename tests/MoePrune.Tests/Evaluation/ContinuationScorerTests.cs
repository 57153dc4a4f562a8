using MoePrune.Evaluation.LogLikelihood;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Evaluation;

/// <summary>
/// Batched continuation scoring against plain forwards: each request's Σ log p equals the sum of float64
/// log-softmax values of ONE unpadded forward of context + continuation computed here, for any batch size.
/// </summary>
public sealed class ContinuationScorerTests(ITestOutputHelper output)
{
    static List<ContinuationRequest> Requests()
    {
        var rng = new Random(11);
        var requests = new List<ContinuationRequest>();
        for (int doc = 0; doc < 5; doc++)
        {
            var context = EvalFixtures.RandomIds(rng, 3 + 4 * doc, 64);
            for (int choice = 0; choice < 4; choice++)                 // mixed lengths, some one-token (shared rows)
                requests.Add(new ContinuationRequest(context, EvalFixtures.RandomIds(rng, doc % 2 == 0 ? 1 : 1 + choice, 64)));
        }
        requests.Add(new ContinuationRequest([5, 6, 7], [8]));
        requests.Add(new ContinuationRequest([5, 6, 7], [8, 9, 10]));   // its input extends the previous one's
        return requests;
    }

    [Fact]
    public void EachScoreEqualsTheLogSoftmaxSumOfAPlainForward()
    {
        using var model = EvalFixtures.Tiny();
        var requests = Requests();
        var scored = ContinuationScorer.Score(model, requests, batchSize: 4, maxLength: 4096);
        double worst = 0;
        for (int i = 0; i < requests.Count; i++)
        {
            double naive = EvalFixtures.NaiveLogLikelihood(model, requests[i].Context, requests[i].Continuation);
            worst = Math.Max(worst, Math.Abs(scored.Scores[i].LogLikelihood - naive));
        }
        output.WriteLine($"{requests.Count} requests in {scored.Rows} rows; max |scored − naive| = {worst:E2}");
        Assert.True(worst < 1e-4, $"max diff {worst}");
        Assert.True(scored.Rows < requests.Count, "one-token continuations of one context should share a row");
        Assert.Equal(0, scored.Truncated);
    }

    [Fact]
    public void GreedyFlagIsTrueExactlyWhenEveryTokenIsTheArgmax()
    {
        using var model = EvalFixtures.Tiny();
        int[] context = [1, 2, 3, 4];
        var logp = EvalFixtures.LogSoftmax(model, context);
        int best = Array.IndexOf(logp[^1], logp[^1].Max());
        int other = (best + 1) % 64;
        var scored = ContinuationScorer.Score(model, [new(context, [best]), new(context, [other])], 8, 4096);
        Assert.True(scored.Scores[0].IsGreedy);
        Assert.False(scored.Scores[1].IsGreedy);
    }

    [Fact]
    public void BatchingAndPaddingChangeNothingBeyondFp32Noise()
    {
        using var model = EvalFixtures.Tiny();
        var requests = Requests();
        var reference = ContinuationScorer.Score(model, requests, batchSize: 1, maxLength: 4096).Scores;
        double worst = 0;
        foreach (var (batch, tokens) in new[] { (2, 0), (3, 0), (7, 0), (64, 0), (1, 40), (2, 100) })
        {
            var scores = ContinuationScorer.Score(model, requests, batch, 4096, batchTokens: tokens).Scores;
            worst = Math.Max(worst, scores.Select((s, i) => Math.Abs(s.LogLikelihood - reference[i].LogLikelihood)).Max());
        }
        output.WriteLine($"max |batched − batch 1| = {worst:E2}");
        Assert.True(worst < 1e-5, $"max diff {worst}");
    }

    [Fact]
    public void LongRequestsLoseContextOnTheLeftOnly()
    {
        using var model = EvalFixtures.Tiny();
        var rng = new Random(5);
        var context = EvalFixtures.RandomIds(rng, 20, 64);
        var continuation = EvalFixtures.RandomIds(rng, 3, 64);
        var scored = ContinuationScorer.Score(model, [new(context, continuation)], 8, maxLength: 10);
        int[] full = [.. context, .. continuation];
        int[] kept = full[^11..];                                       // maxLength + 1 tokens, the last one only predicted
        double naive = EvalFixtures.NaiveLogLikelihood(model, kept[..^3], kept[^3..]);
        output.WriteLine($"truncated: {scored.Scores[0].LogLikelihood:F6} vs naive {naive:F6}");
        Assert.Equal(1, scored.Truncated);
        Assert.True(Math.Abs(scored.Scores[0].LogLikelihood - naive) < 1e-4);
        Assert.Throws<MoePruneException>(() => ContinuationScorer.Score(model, [new(context, EvalFixtures.RandomIds(rng, 11, 64))], 8, 10));
    }

    [Fact]
    public void ScoringLeavesNoTensorsBehind()
    {
        using var model = EvalFixtures.Tiny();
        var requests = Requests();
        ContinuationScorer.Score(model, requests, 3, 4096);           // warm-up
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        ContinuationScorer.Score(model, requests, 3, 4096);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
