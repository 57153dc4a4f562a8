using MoePrune.Native;
using MoePrune.Training;
using MoePrune.Training.Pretrain;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static MoePrune.Tests.Training.TinyTraining;

namespace MoePrune.Tests.Training;

/// <summary>The trainer on a tiny Mixtral: it learns, it resumes exactly, it leaks no tensors, its data sources.</summary>
public sealed class TrainerTests(ITestOutputHelper output) : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "moeprune-trainer-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void TinyModelLowersValidationLossWellBelowLnVocab()
    {
        using var model = Model();
        var data = new PackedDataset(Chain(32 * 200, seed: 1), Shape.SequenceLength, Shape.Seed);
        var validation = PretrainCorpus.Cut(Chain(32 * 16, seed: 2), Shape.SequenceLength).ToList();
        var trainer = new Trainer(Options);
        double before = trainer.Evaluate(model, validation, 0).ValidationLoss;
        var result = trainer.Train(model, data);
        var after = trainer.Evaluate(model, validation, result.State.Step);
        output.WriteLine($"validation {before:F4} → {after.ValidationLoss:F4}; train {result.Losses[0]:F4} → {result.Losses[^1]:F4}; ln 64 = {Math.Log(64):F4}");
        Assert.Equal(60, result.State.Step);
        Assert.False(result.StoppedEarly);
        // The chain's entropy is about 0.9·0 + H(noise) ≈ 0.85 nats; ln 64 ≈ 4.16.
        Assert.True(after.ValidationLoss < 0.5 * Math.Log(64), $"validation loss {after.ValidationLoss}");
        Assert.True(result.Losses[^1] < result.Losses[0] - 1);
    }

    [Fact]
    public void AStoppedAndResumedRunEndsWithBitIdenticalParameters()
    {
        var options = Options with { Tokens = 8L * 2 * 8 * 32, WarmupTokens = 2L * 2 * 8 * 32, GradientAccumulation = 2, CheckpointEvery = 0 };
        var data = new PackedDataset(Chain(32 * 40, seed: 4), Shape.SequenceLength, Shape.Seed);

        using var straight = Model();
        var straightRun = new Trainer(options, Path.Combine(_root, "straight")).Train(straight, data);

        using var resumed = Model();
        string dir = Path.Combine(_root, "resumed");
        var first = new Trainer(options, dir).Train(resumed, data, stopAtStep: 3);   // checkpoint at step 3
        Assert.True(first.StoppedEarly);
        using var fresh = Model(seed: 99);                                          // other initial values: the checkpoint restores them
        var second = new Trainer(options, dir).Train(fresh, data);

        output.WriteLine("straight: " + string.Join(", ", straightRun.Losses.Select(l => l.ToString("R"))));
        output.WriteLine("resumed:  " + string.Join(", ", first.Losses.Concat(second.Losses).Select(l => l.ToString("R"))));
        Assert.Equal(straightRun.Losses, first.Losses.Concat(second.Losses));
        Assert.Equal(straightRun.State with { ElapsedSeconds = 0 }, second.State with { ElapsedSeconds = 0 });
        var differing = straight.named_parameters().Zip(fresh.named_parameters())
            .Where(p => !Same(p.First.parameter, p.Second.parameter)).Select(p => p.First.name).ToList();
        Assert.Empty(differing);
    }

    [Fact]
    public void ACheckpointOfOtherRolesOrAnotherBudgetIsRefused()
    {
        var options = Options with { Tokens = 4L * 8 * 32, WarmupTokens = 8 * 32 };
        var data = new PackedDataset(Chain(32 * 40, seed: 4), Shape.SequenceLength, Shape.Seed);
        string dir = Path.Combine(_root, "run");
        using var model = Model();
        new Trainer(options, dir).Train(model, data, stopAtStep: 2);
        var roles = Assert.Throws<MoePruneException>(() => new Trainer(options with { Train = ParameterSelection.Parse("routers") }, dir).Train(model, data));
        output.WriteLine(roles.Message);
        Assert.Contains("\"routers\"", roles.Message);
        var budget = Assert.Throws<MoePruneException>(() => new Trainer(options with { Tokens = 6L * 8 * 32 }, dir).Train(model, data));
        Assert.Contains("4 steps", budget.Message);
    }

    [Fact]
    public void TrainingLeaksNoTensorsAndRestoresTheGradientFlags()
    {
        using var model = Model();
        var data = new PackedDataset(Chain(32 * 40, seed: 4), Shape.SequenceLength, Shape.Seed);
        var options = Options with { Tokens = 2L * 8 * 32, WarmupTokens = 0, Train = ParameterSelection.Parse("routers,norms") };
        foreach (var p in model.parameters()) p.requires_grad = false;
        new Trainer(options).Train(model, data);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        new Trainer(options).Train(model, data);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        Assert.All(model.parameters(), p => Assert.Null(p.grad));
    }

    [Fact]
    public void TheTokenBudgetRoundsUpToWholeStepsAndBadSettingsAreOneLine()
    {
        var options = Options with { Tokens = 1000, WarmupTokens = 0, BatchSize = 2, GradientAccumulation = 3 };
        Assert.Equal(6, options.Steps(sequenceLength: 32));                      // 1000 / 192 = 5.2 → 6
        Assert.Equal(192, options.TokensPerStep(32));
        foreach (var bad in new[] { options with { Tokens = 0 }, options with { WarmupTokens = 1000 }, options with { Optimizer = new() { LearningRate = -1 } } })
        {
            var e = Assert.Throws<MoePruneException>(() => bad.Validate(32));
            Assert.StartsWith("training: ", e.Message);
            Assert.DoesNotContain('\n', e.Message);
            Assert.DoesNotContain("--", e.Message);
        }
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
        var read = data.Read(new DataCursor(0, 0, 3), 2);
        Assert.Equal(5, read.NextPosition);
        Assert.True(Same(read.InputIds, again));
    }
}
