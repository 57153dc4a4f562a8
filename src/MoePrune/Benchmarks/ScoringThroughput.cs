using System.Diagnostics;
using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Benchmarks;

/// <summary>Calibration tokens per second of a plain forward and of the two kinds of scoring pass.</summary>
public sealed record ScoringThroughputResult(long Tokens, double ForwardTokensPerSecond,
    double ForwardCriteriaTokensPerSecond, double AllCriteriaTokensPerSecond)
{
    public double ForwardCriteriaRatio => ForwardCriteriaTokensPerSecond / ForwardTokensPerSecond;
    public double AllCriteriaRatio => AllCriteriaTokensPerSecond / ForwardTokensPerSecond;
}

/// <summary>
/// Measures the cost of scoring against the model's own forward, in the same dtype and batching:
/// (1) a plain no-grad forward over the calibration data; (2) <see cref="CalibrationPass.Collect"/> with every
/// forward-only criterion (routing, activation, REAP, NAEE sample); (3) the same with every criterion,
/// the gradient ones included (forward + backward). Each is timed once after one warm-up batch.
/// </summary>
public static class ScoringThroughput
{
    /// <summary>Every criterion whose statistics come from the forward alone.</summary>
    public static IReadOnlyList<CriterionSpec> ForwardOnlyCriteria => Enum.GetValues<CriterionKind>()
        .Where(k => CriterionInfo.Group(k) is not (CriterionGroup.Weight or CriterionGroup.Gradient) && k != CriterionKind.Random)
        .Select(CriterionSpec.Default).ToList();

    public static ScoringThroughputResult Measure(MoeForCausalLM model, CalibrationSet data, int batchSize = CalibrationPass.DefaultBatchSize)
    {
        var warm = new CalibrationSet
        {
            Spec = data.Spec, SequenceLength = data.SequenceLength, Seed = data.Seed,
            Sequences = data.Sequences.Take(batchSize).ToList(), Sources = data.Sources,
        };
        CalibrationPass.Collect(model, warm, CriterionSpec.AllScores, batchSize: batchSize);
        double plain = Time(() => PlainForward(model, data, batchSize));
        double forward = Time(() => CalibrationPass.Collect(model, data, ForwardOnlyCriteria, batchSize: batchSize));
        var all = CriterionSpec.AllScores.Append(CriterionSpec.Parse("naee")).ToList();
        double everything = Time(() => CalibrationPass.Collect(model, data, all, batchSize: batchSize));
        return new ScoringThroughputResult(data.Tokens, data.Tokens / plain, data.Tokens / forward, data.Tokens / everything);
    }

    /// <summary>Random token ids packed as one source (for benchmarks on random-weight models).</summary>
    public static CalibrationSet RandomData(int sequences, int length, int vocabSize, int seed = 0)
    {
        var rng = new Random(seed);
        var seqs = Enumerable.Range(0, sequences)
            .Select(_ => new CalibrationSequence("random", Enumerable.Range(0, length).Select(_ => rng.Next(vocabSize)).ToArray()))
            .ToList();
        return new CalibrationSet
        {
            Spec = "random", SequenceLength = length, Seed = seed, Sequences = seqs,
            Sources = [new CalibrationSourceUse("random", 1, sequences, (long)sequences * length, sequences)],
        };
    }

    private static void PlainForward(MoeForCausalLM model, CalibrationSet data, int batchSize)
    {
        using var noGrad = no_grad();
        foreach (var chunk in data.Sequences.Chunk(batchSize))
        {
            using var scope = NewDisposeScope();
            var ids = tensor(chunk.SelectMany(s => s.Ids.Select(i => (long)i)).ToArray(), [chunk.Length, data.SequenceLength]); // (B, L)
            model.Logits(ids);                                                              // (B, L, V)
        }
    }

    private static double Time(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }
}
