using System.Diagnostics;
using MoePrune.Data;
using MoePrune.Data.Tasks;
using MoePrune.Evaluation;
using MoePrune.Evaluation.LogLikelihood;
using MoePrune.Evaluation.Tasks;
using MoePrune.Models;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Evaluation;

/// <summary>
/// Multiple-choice scoring throughput against plain perplexity on the same model and batch size. Quick by default
/// (a few documents); with MOEPRUNE_BENCH_EVAL=1 it measures models/default on 300 documents of three built-in tasks
/// against 60 Brown validation sequences of 256 tokens, alternating the passes for 5 rounds and keeping each pass's
/// best round (robust to a loaded machine), and prints the numbers recorded in docs/BENCHMARKS.md.
/// </summary>
public sealed class EvalThroughputTests(ITestOutputHelper output)
{
    [Fact]
    public void ScoringAgainstPerplexity()
    {
        bool full = Environment.GetEnvironmentVariable("MOEPRUNE_BENCH_EVAL") == "1";
        int limit = full ? 300 : 6, rounds = full ? 5 : 1, batch = 8;
        var tokenizer = HfTokenizer.Load(DefaultModelFiles.TokenizerJson);
        using var model = ModelLoader.Load(DefaultModelFiles.Directory());
        var sequences = GenrePerplexity.Sequences(tokenizer, CorpusSplit.Validation, 256, full ? 4 : 1).SelectMany(g => g.Sequences).ToList();
        long perplexityTokens = sequences.Sum(s => (long)s.Length);
        var encoder = new ContinuationEncoder(tokenizer);
        string[] names = ["def2word", "def2word_letter", "word2def"];
        var lines = BuiltinTasks.Lines(names);
        var requests = names.ToDictionary(n => n, n =>
            TaskRunner.Prepare(TaskFile.Parse(n, n, lines[n]), encoder, new EvalSettings(Limit: limit)).Requests);

        double Rate(long tokens, Action pass)
        {
            var clock = Stopwatch.StartNew();
            pass();
            return tokens / clock.Elapsed.TotalSeconds;
        }
        Perplexity.Evaluate(model, sequences.Take(batch).ToList(), batch);                           // warm-up
        double bestPerplexity = 0;
        var best = new Dictionary<(string, int), (double Forwarded, double Requested)>();
        for (int round = 0; round < rounds; round++)
        {
            bestPerplexity = Math.Max(bestPerplexity, Rate(perplexityTokens, () => Perplexity.Evaluate(model, sequences, batch)));
            foreach (var name in names)
                foreach (int batchTokens in new[] { 0, EvalSettings.DefaultBatchTokens })
                {
                    ScoredContinuations? scored = null;
                    var clock = Stopwatch.StartNew();
                    scored = ContinuationScorer.Score(model, requests[name], batch, 1024, batchTokens: batchTokens);
                    double seconds = clock.Elapsed.TotalSeconds;
                    var (f, r) = best.GetValueOrDefault((name, batchTokens));
                    best[(name, batchTokens)] = (Math.Max(f, scored.TokensForwarded / seconds), Math.Max(r, scored.TokensRequested / seconds));
                }
        }
        output.WriteLine($"threads {TorchSharp.torch.get_num_threads()}, batch {batch}, best of {rounds} rounds; perplexity {perplexityTokens} tokens: {bestPerplexity:F0} tok/s");
        foreach (var ((name, batchTokens), (f, r)) in best)
            output.WriteLine($"{name,-16} batch-tokens {batchTokens,4}: forwarded {f,7:F0} tok/s ({f / bestPerplexity:F2}x), requested {r,7:F0} tok/s ({r / bestPerplexity:F2}x)");
        Assert.All(best.Values, v => Assert.True(v.Forwarded > 0 && v.Requested >= v.Forwarded * 0.999));
    }
}
