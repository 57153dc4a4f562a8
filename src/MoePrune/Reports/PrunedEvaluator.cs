using MoePrune.Evaluation;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Reports;

/// <summary>
/// Builds a pruned copy of a model in memory for a selection, evaluates its perplexity on fixed sequences and
/// disposes it. Selections that keep the same experts in every layer give the same model, so each distinct
/// selection is evaluated once and later measurements reuse the value.
/// </summary>
public sealed class PrunedEvaluator(MoeForCausalLM model, IReadOnlyList<int[]> sequences, int batchSize)
{
    private readonly Dictionary<string, double> _cache = new(StringComparer.Ordinal);

    /// <summary>Distinct pruned models built and evaluated.</summary>
    public int Evaluations { get; private set; }
    /// <summary>Seconds spent building and evaluating pruned models.</summary>
    public double Seconds { get; private set; }
    /// <summary>Calls of <see cref="Measure"/>.</summary>
    public int Measurements { get; private set; }

    public StudyMeasurement Measure(int seed, SortedDictionary<int, LayerSelection> selection)
    {
        Measurements++;
        var kept = selection.ToDictionary(s => s.Key, s => s.Value.Kept);
        string key = string.Join(";", kept.OrderBy(k => k.Key).Select(k => $"{k.Key}:{string.Join(",", k.Value)}"));
        if (!_cache.TryGetValue(key, out double ppl))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var pruned = ExpertSurgery.Apply(model, ExpertSurgery.KeepPlan(selection.Values));
            ppl = Perplexity.Evaluate(pruned, sequences, batchSize).Perplexity;
            _cache[key] = ppl;
            Evaluations++;
            Seconds += clock.Elapsed.TotalSeconds;
        }
        return new StudyMeasurement(seed, ppl, kept);
    }
}
