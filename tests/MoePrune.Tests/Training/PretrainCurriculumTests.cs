using MoePrune.Training;
using MoePrune.Training.Pretrain;
using Xunit;
using Xunit.Abstractions;
using static MoePrune.Tests.Training.TinyTraining;

namespace MoePrune.Tests.Training;

/// <summary>The experiment-only pretraining options as data sources: the lettered warm-up and the answer-token weights.</summary>
public sealed class PretrainCurriculumTests(ITestOutputHelper output) : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "moeprune-curriculum-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    static readonly TrainerOptions Six = Options with { Tokens = 6L * 2 * 8 * 32, WarmupTokens = 2L * 8 * 32, GradientAccumulation = 2 };

    List<double> Run(string name, ITrainingData data, int? stopAt = null, TrainerOptions? options = null)
    {
        using var model = Model();
        return new Trainer(options ?? Six, Path.Combine(_root, name)).Train(model, data, stopAtStep: stopAt).Losses.ToList();
    }

    [Fact]
    public void LetteredWarmupReadsTheWarmupDataThenTheMixAndResumesAcrossTheSwitch()
    {
        var main = new PackedDataset(Chain(32 * 40, seed: 4), Shape.SequenceLength, Shape.Seed);
        var warm = new PackedDataset(Chain(32 * 40, seed: 7), Shape.SequenceLength, Shape.Seed);
        var curriculum = new LetteredWarmupSource(warm, main, steps: 3);
        var switched = Run("switched", curriculum);
        var warmOnly = Run("warm-only", warm);                                              // the warm-up data as the mix
        var mainOnly = Run("main-only", main);
        output.WriteLine("switched:  " + string.Join(", ", switched.Select(l => l.ToString("F5"))));
        output.WriteLine("warm only: " + string.Join(", ", warmOnly.Select(l => l.ToString("F5"))));
        output.WriteLine("main only: " + string.Join(", ", mainOnly.Select(l => l.ToString("F5"))));
        Assert.Equal(warmOnly.Take(3), switched.Take(3));                                   // same init, same batches
        Assert.NotEqual(warmOnly[3], switched[3]);
        Assert.NotEqual(mainOnly[0], switched[0]);
        // The mix starts at its position 0 after the warm-up.
        using var afterSwitch = curriculum.Read(new DataCursor(3, 6, 0), 8).InputIds;
        using var mixStart = main.Batch(0, 8);
        Assert.True(Same(afterSwitch, mixStart));

        // Stopping inside the warm-up and resuming crosses the switch exactly as an uninterrupted run.
        var first = Run("resumed", curriculum, stopAt: 2);
        var second = Run("resumed", curriculum);
        Assert.Equal(switched, first.Concat(second));

        var tooMany = Assert.Throws<MoePruneException>(() => (Shape with { Steps = 6, WarmupSteps = 1, Curriculum = new() { LetteredWarmupSteps = 6 } }).Validate());
        Assert.StartsWith("--lettered-warmup-steps", tooMany.Message);
    }

    [Fact]
    public void AnswerWeightAddsTheWeightedRowsToTheLossOnly()
    {
        var options = Six with { Tokens = 3L * 8 * 32, WarmupTokens = 8 * 32, GradientAccumulation = 1, Loss = Six.Loss with { Normalization = TargetNormalization.RowMean } };
        var data = new PackedDataset(Chain(32 * 40, seed: 5), Shape.SequenceLength, Shape.Seed);
        List<StepReport> Steps(string name, ITrainingData source)
        {
            using var model = Model();
            var reports = new List<StepReport>();
            var trainer = new Trainer(options, Path.Combine(_root, name));
            trainer.StepCompleted += reports.Add;
            trainer.Train(model, source);
            return reports;
        }
        var plain = Steps("plain", data);
        // Weight 1 everywhere changes nothing but the summation path.
        var ones = Steps("ones", new AnswerWeightedSource(data, [0, 3], 1));
        Assert.All(plain.Zip(ones), p => Assert.Equal(p.First.Loss, p.Second.Loss, 5));
        // Token 3 follows 0 in the chain: rows at token 3 get weight 5. Same first step (same init and data), so
        // the cross-entropy is equal and the loss is larger by 4 · (those rows' NLL) / count.
        var weighted = Steps("weighted", new AnswerWeightedSource(data, [0, 3], 5));
        double Extra(StepReport r) => r.Loss - r.CrossEntropy - options.Loss.AuxLossCoef * r.AuxLoss - options.Loss.ZLossCoef * r.ZLoss;
        output.WriteLine($"step 1: ce {plain[0].CrossEntropy:F5} / {weighted[0].CrossEntropy:F5}; extra {Extra(plain[0]):E2} / {Extra(weighted[0]):E2}");
        Assert.Equal(plain[0].CrossEntropy, weighted[0].CrossEntropy, 6);
        Assert.True(Math.Abs(Extra(plain[0])) < 1e-5);
        Assert.True(Extra(weighted[0]) > 0.01);
        Assert.NotEqual(plain[^1].CrossEntropy, weighted[^1].CrossEntropy);                // the gradient differed
    }
}
