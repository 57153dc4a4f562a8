using MoePrune.Native;
using MoePrune.Training;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Training;

public sealed class PretrainerTests(ITestOutputHelper output) : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "moeprune-pretrain-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    static readonly PretrainOptions Tiny = new()
    {
        HiddenSize = 32, Layers = 1, Heads = 2, KeyValueHeads = 1, Experts = 4, TopK = 2, ExpertSize = 32, VocabSize = 64,
        SequenceLength = 32, BatchSize = 8, Steps = 60, WarmupSteps = 5, LearningRate = 1e-2, EvalEvery = 0, CheckpointEvery = 0,
        Threads = 1, Seed = 3,
    };

    /// <summary>A noisy deterministic chain over 64 tokens: next = (5·x + 3) mod 64 with probability 0.9, else uniform.</summary>
    static int[] Chain(int length, int seed)
    {
        var rng = new Random(seed);
        var tokens = new int[length];
        for (int i = 1; i < length; i++)
            tokens[i] = rng.NextDouble() < 0.9 ? (5 * tokens[i - 1] + 3) % 64 : rng.Next(64);
        return tokens;
    }

    [Fact]
    public void TinyModelLowersValidationLossWellBelowLnVocab()
    {
        TorchNative.EnsureLoaded();
        var data = new PackedDataset(Chain(32 * 200, seed: 1), Tiny.SequenceLength, Tiny.Seed);
        var validation = PretrainCorpus.Cut(Chain(32 * 16, seed: 2), Tiny.SequenceLength).ToList();
        var trainer = new Pretrainer(Tiny, Path.Combine(_root, "tiny"));
        using var model = trainer.Train(data, validation, null, null);
        var eval = trainer.Evaluate(model, validation, Tiny.Steps);
        output.WriteLine($"first loss {trainer.Losses[0]:F4}, last {trainer.Losses[^1]:F4}, validation {eval.ValidationLoss:F4}, ln 64 = {Math.Log(64):F4}");
        // The chain's entropy is about 0.9·0 + H(noise) ≈ 0.85 nats; ln 64 ≈ 4.16.
        Assert.True(eval.ValidationLoss < 0.5 * Math.Log(64), $"validation loss {eval.ValidationLoss}");
    }

    [Fact]
    public void ResumingFromACheckpointReproducesTheFollowingLossesExactly()
    {
        TorchNative.EnsureLoaded();
        var options = Tiny with { Steps = 8, WarmupSteps = 2, GradientAccumulation = 2 };
        var data = new PackedDataset(Chain(32 * 40, seed: 4), options.SequenceLength, options.Seed);

        var straight = new Pretrainer(options, Path.Combine(_root, "straight"));
        straight.Train(data, [], null, null).Dispose();

        string resumedDir = Path.Combine(_root, "resumed");
        var first = new Pretrainer(options, resumedDir);
        first.Train(data, [], null, null, stopAtStep: 3).Dispose();                       // checkpoint at step 3
        var second = new Pretrainer(options, resumedDir);
        second.Train(data, [], null, null).Dispose();                                   // resumes at step 3

        output.WriteLine("straight: " + string.Join(", ", straight.Losses.Select(l => l.ToString("R"))));
        output.WriteLine("resumed:  " + string.Join(", ", first.Losses.Concat(second.Losses).Select(l => l.ToString("R"))));
        Assert.Equal(3, first.Losses.Count);
        Assert.Equal(5, second.Losses.Count);
        Assert.Equal(straight.Losses, first.Losses.Concat(second.Losses));
    }

    [Fact]
    public void LetteredWarmupStepsReadTheWarmupDataThenTheMixAndResumeAcrossTheSwitch()
    {
        TorchNative.EnsureLoaded();
        var options = Tiny with { Steps = 6, WarmupSteps = 1, GradientAccumulation = 2 };
        var main = new PackedDataset(Chain(32 * 40, seed: 4), options.SequenceLength, options.Seed);
        var warm = new PackedDataset(Chain(32 * 40, seed: 7), options.SequenceLength, options.Seed);
        List<double> Run(string name, PretrainOptions o, PackedDataset data, PackedDataset? warmup, int? stopAt = null)
        {
            var trainer = new Pretrainer(o, Path.Combine(_root, name));
            trainer.Train(data, [], null, null, stopAt, warmup).Dispose();
            return trainer.Losses;
        }
        var curriculum = options with { LetteredWarmupSteps = 3 };
        var switched = Run("switched", curriculum, main, warm);
        var warmOnly = Run("warm-only", options, warm, null);                                // the warm-up data as the mix
        var mainOnly = Run("main-only", options, main, null);
        output.WriteLine("switched:  " + string.Join(", ", switched.Select(l => l.ToString("F5"))));
        output.WriteLine("warm only: " + string.Join(", ", warmOnly.Select(l => l.ToString("F5"))));
        output.WriteLine("main only: " + string.Join(", ", mainOnly.Select(l => l.ToString("F5"))));
        Assert.Equal(warmOnly.Take(3), switched.Take(3));                                   // same init, same batches
        Assert.NotEqual(warmOnly[3], switched[3]);
        Assert.NotEqual(mainOnly[0], switched[0]);

        // Stopping inside the warm-up and resuming crosses the switch exactly as an uninterrupted run.
        var first = Run("resumed", curriculum, main, warm, stopAt: 2);
        var second = Run("resumed", curriculum, main, warm);
        Assert.Equal(switched, first.Concat(second));

        Assert.Throws<MoePruneException>(() => Run("no-data", curriculum, main, null));
        var tooMany = Assert.Throws<MoePruneException>(() => (options with { LetteredWarmupSteps = 6 }).Validate());
        Assert.StartsWith("--lettered-warmup-steps", tooMany.Message);
    }

    [Fact]
    public void AnswerWeightAddsTheWeightedRowsToTheLossOnly()
    {
        TorchNative.EnsureLoaded();
        var options = Tiny with { Steps = 3, WarmupSteps = 1 };
        var data = new PackedDataset(Chain(32 * 40, seed: 5), options.SequenceLength, options.Seed);
        List<StepReport> Run(string name, PretrainOptions o)
        {
            var reports = new List<StepReport>();
            var trainer = new Pretrainer(o, Path.Combine(_root, name));
            trainer.StepCompleted += reports.Add;
            trainer.Train(data, [], null, null).Dispose();
            return reports;
        }
        var plain = Run("plain", options);
        // A marker that never occurs (token 99 > vocabulary) changes nothing, whatever the weight.
        var absent = Run("absent", options with { AnswerWeight = 5, AnswerMarkerIds = [99] });
        // (up to summation order: the weighted path sums per-row terms instead of fusing the reduction)
        Assert.All(plain.Zip(absent), p => Assert.Equal(p.First.Loss, p.Second.Loss, 4));
        // Token 3 follows 0 in the chain: rows at token 3 get weight 5. Same first step (same init and data), so
        // the cross-entropy is equal and the loss is larger by 4 · (those rows' NLL) / count.
        var weighted = Run("weighted", options with { AnswerWeight = 5, AnswerMarkerIds = [0, 3] });
        double extra(StepReport r) => r.Loss - r.CrossEntropy - Tiny.AuxLossCoef * r.AuxLoss - Tiny.ZLossCoef * r.ZLoss;
        output.WriteLine($"step 1: ce {plain[0].CrossEntropy:F5} / {weighted[0].CrossEntropy:F5}; extra {extra(plain[0]):E2} / {extra(weighted[0]):E2}");
        Assert.Equal(plain[0].CrossEntropy, weighted[0].CrossEntropy, 6);
        Assert.True(Math.Abs(extra(plain[0])) < 1e-5);
        Assert.True(extra(weighted[0]) > 0.01);
        Assert.NotEqual(plain[^1].CrossEntropy, weighted[^1].CrossEntropy);                // the gradient differed
    }

    [Fact]
    public void PackedDatasetVisitsEverySequenceOncePerEpoch()
    {
        TorchNative.EnsureLoaded();
        var tokens = Enumerable.Range(0, 10 * 4 + 3).ToArray();                           // 10 sequences of 4, tail dropped
        var data = new PackedDataset(tokens, 4, seed: 9);
        using var epoch = data.Batch(0, 10);                                             // (10, 4)
        var firsts = Enumerable.Range(0, 10).Select(i => epoch[i, 0].item<long>()).OrderBy(x => x).ToArray();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => 4L * i), firsts);
        using var again = data.Batch(3, 2);                                              // same rows as positions 3, 4
        Assert.Equal(epoch[3, 0].item<long>(), again[0, 0].item<long>());
        Assert.Equal(epoch[4, 3].item<long>(), again[1, 3].item<long>());
    }
}
