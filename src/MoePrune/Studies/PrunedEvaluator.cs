using MoePrune.Evaluation;
using MoePrune.Jobs;
using MoePrune.Models;

namespace MoePrune.Studies;

/// <summary>
/// A round's evaluate step for the studies: the perplexity of the round's pruned model (built in memory by the
/// round on first use) on fixed sequences. Rounds that keep the same experts in every layer give the same
/// model, so each distinct selection is built and evaluated once and later measurements reuse the value.
/// </summary>
public sealed class PrunedEvaluator(IReadOnlyList<int[]> sequences, int batchSize)
{
    private readonly Dictionary<string, double> _cache = new(StringComparer.Ordinal);

    /// <summary>Distinct pruned models built and evaluated.</summary>
    public int Evaluations { get; private set; }
    /// <summary>Seconds spent building and evaluating pruned models.</summary>
    public double Seconds { get; private set; }
    /// <summary>Calls of <see cref="Measure"/>.</summary>
    public int Measurements { get; private set; }

    /// <summary>The perplexity of the round's model, and the original experts each layer kept.</summary>
    public StudyMeasurement Measure(int seed, RoundContext round)
    {
        Measurements++;
        var kept = round.LineageAfter.Layers.ToDictionary(l => l, l => round.LineageAfter.KeptOriginals(l));
        string key = string.Join(";", kept.OrderBy(k => k.Key).Select(k => $"{k.Key}:{string.Join(",", k.Value)}"));
        if (!_cache.TryGetValue(key, out double ppl))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            ppl = Perplexity.Evaluate(round.Model, sequences, batchSize).Perplexity;
            _cache[key] = ppl;
            Evaluations++;
            Seconds += clock.Elapsed.TotalSeconds;
        }
        return new StudyMeasurement(seed, ppl, kept);
    }
}
