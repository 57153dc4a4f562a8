using MoePrune.Benchmarks;
using MoePrune.Models;
using MoePrune.Native;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Benchmarks;

/// <summary>
/// The scoring-throughput measurement on a tiny model (fast). With MOEPRUNE_BENCH_SCORING=1 it runs at the
/// size of the planned default model (hidden 256, 6 layers, 8 experts of 512, top-2, vocab 4096) and prints
/// the numbers recorded in docs/BENCHMARKS.md.
/// </summary>
public class ScoringThroughputTests(ITestOutputHelper output)
{
    [Fact]
    public void MeasuresAllThreePasses()
    {
        TorchNative.EnsureLoaded();
        bool full = Environment.GetEnvironmentVariable("MOEPRUNE_BENCH_SCORING") == "1";
        var config = full
            ? TinyCheckpoint.Config("mixtral", hidden: 256, layers: 6, experts: 8, topK: 2, expertSize: 512, vocab: 4096)
            : TinyCheckpoint.Config("mixtral", hidden: 32, layers: 2, experts: 4, topK: 2, expertSize: 16, vocab: 64);
        using var model = TinyCheckpoint.Random(config, seed: 0);
        var data = ScoringThroughput.RandomData(full ? 32 : 4, full ? 256 : 16, model.Config.VocabSize);
        var r = ScoringThroughput.Measure(model, data);
        output.WriteLine($"tokens {r.Tokens}, threads {TorchSharp.torch.get_num_threads()}");
        output.WriteLine($"plain forward        {r.ForwardTokensPerSecond,10:F0} tokens/s");
        output.WriteLine($"forward-only criteria{r.ForwardCriteriaTokensPerSecond,10:F0} tokens/s  ratio {r.ForwardCriteriaRatio:F2}");
        output.WriteLine($"all criteria (grad)  {r.AllCriteriaTokensPerSecond,10:F0} tokens/s  ratio {r.AllCriteriaRatio:F2}");
        Assert.True(r.ForwardTokensPerSecond > 0 && r.ForwardCriteriaTokensPerSecond > 0 && r.AllCriteriaTokensPerSecond > 0);
        Assert.Equal((full ? 32 : 4) * (full ? 256 : 16), r.Tokens);                       // timings are a benchmark (docs/BENCHMARKS.md), not asserted
    }
}
