using MoePrune.Calibration;
using MoePrune.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Criteria;

/// <summary>Progress of a calibration pass: tokens done out of the total, and the source being read.</summary>
public sealed record ScoringProgress(long Tokens, long TotalTokens, string Source);

/// <summary>
/// The calibration pass and the scoring that follows it. <see cref="Collect"/> runs one forward over the
/// calibration data (plus one backward of the summed next-token loss when a gradient criterion is asked
/// for) with a <see cref="CriteriaCollector"/> attached, so every requested criterion's statistics come
/// from the same pass; <see cref="Score"/> turns statistics and weights into a <see cref="ScoresReport"/>.
/// </summary>
public static class ScoringJob
{
    public const int DefaultBatchSize = 8;

    /// <summary>True when some criterion reads calibration statistics (weight criteria and random do not).</summary>
    public static bool NeedsCalibration(IEnumerable<CriterionSpec> criteria) => criteria.Any(NeedsStats);

    /// <summary>All criteria and baselines with their default directions, except NAEE (a subset search, not a score).</summary>
    public static IReadOnlyList<CriterionSpec> AllScores => Enum.GetValues<CriterionKind>()
        .Where(k => k != CriterionKind.Naee).Select(CriterionSpec.Default).ToList();

    /// <summary>Parses <c>--criteria</c>: "all" or a comma-separated list.</summary>
    public static IReadOnlyList<CriterionSpec> ParseCriteria(string text) =>
        text.Trim().Equals("all", StringComparison.OrdinalIgnoreCase) ? AllScores : CriterionSpec.ParseList(text);

    /// <summary>
    /// One calibration pass. Sequences are batched <paramref name="batchSize"/> at a time within each
    /// source; with a mix the collector is told the source of each batch. For gradient criteria only the
    /// routed experts' weights require gradients during the pass; their <c>.grad</c> accumulates over all
    /// batches and is added to the statistics once at the end (the same sum as per-batch accumulation).
    /// The model's <c>requires_grad</c> flags and observers are restored afterwards.
    /// </summary>
    public static CriteriaStats Collect(MoeForCausalLM model, CalibrationSet data, IReadOnlyList<CriterionSpec> criteria,
        int naeeTokens = 4096, int batchSize = DefaultBatchSize, Action<ScoringProgress>? progress = null)
    {
        if (batchSize < 1) throw new MoePruneException($"--batch-size: {batchSize} must be at least 1");
        if (data.Sequences.Count == 0) throw new MoePruneException($"--calib: '{data.Spec}' gave no calibration sequences");
        var collector = new CriteriaCollector(criteria, model.Config.VocabSize, naeeTokens, data.Describe());
        var saved = model.named_parameters().Select(p => (p.parameter, p.parameter.requires_grad)).ToList();
        model.Observers.Add(collector);
        try
        {
            foreach (var (name, p) in model.named_parameters())
                p.requires_grad_(collector.WantsGradients && name.Contains(".experts.", StringComparison.Ordinal));
            long done = 0;
            foreach (var group in data.Sequences.GroupBy(s => s.Source))
                foreach (var chunk in group.Chunk(batchSize))
                {
                    collector.CurrentSource = data.IsMix ? group.Key : null;
                    RunBatch(model, chunk, collector.WantsGradients);
                    done += (long)chunk.Length * data.SequenceLength;
                    progress?.Invoke(new ScoringProgress(done, data.Tokens, group.Key));
                }
            if (collector.WantsGradients) collector.AccumulateGradients(model.MoeLayers);
        }
        finally
        {
            model.Observers.Remove(collector);
            model.zero_grad();
            foreach (var (p, requiresGrad) in saved) p.requires_grad_(requiresGrad);
        }
        return collector.Stats;
    }

    private static void RunBatch(MoeForCausalLM model, CalibrationSequence[] chunk, bool gradients)
    {
        using var scope = NewDisposeScope();
        int length = chunk[0].Ids.Length;
        var flat = chunk.SelectMany(s => s.Ids.Select(i => (long)i)).ToArray();
        var ids = tensor(flat, [chunk.Length, length]);                                   // (B, L) int64, no padding
        if (!gradients)
        {
            using var noGrad = no_grad();
            model.Logits(ids);                                                             // (B, L, V) unused: observers collect
            return;
        }
        var logits = model.Logits(ids);                                                   // (B, L, V)
        var nll = CausalLMLoss.Compute(logits, ids);                                       // () fp32 summed next-token NLL
        nll.Sum.backward();
    }

    /// <summary>
    /// Scores every criterion (per source too, for statistics of a mix; gradient criteria only overall,
    /// as per-source statistics keep no gradients) and runs the NAEE search when <c>naee</c> is requested.
    /// </summary>
    /// <param name="stats">Calibration statistics; null is allowed when only weight criteria and random are requested.</param>
    /// <param name="naeeKeep">Experts NAEE keeps per layer (required with naee).</param>
    public static ScoresReport Score(MoeForCausalLM model, CriteriaStats? stats, IReadOnlyList<CriterionSpec> criteria,
        ScoresMetadata metadata, int seed = 0, int? naeeKeep = null, NaeeMode naeeMode = NaeeMode.Exhaustive)
    {
        if (stats is not null) CheckCovers(stats, criteria);
        var views = model.MoeLayers;
        var report = new ScoresReport { Metadata = metadata };
        foreach (var spec in criteria.Where(c => c.Kind != CriterionKind.Naee))
        {
            var useStats = NeedsStats(spec) ? stats : null;
            report.Add(CriteriaScorer.Score(spec, useStats, views, seed));
            if (useStats is null || CriterionInfo.Group(spec.Kind) == CriterionGroup.Gradient) continue;
            foreach (var source in useStats.Sources.Keys)
                report.Add(CriteriaScorer.Score(spec, useStats.ForSource(source), views, seed), source);
        }
        if (criteria.Any(c => c.Kind == CriterionKind.Naee))
        {
            if (stats is null) throw new MoePruneException("criterion naee: needs calibration statistics, none were given");
            int keep = naeeKeep ?? throw new MoePruneException("criterion naee: --naee-keep is required");
            report.AddNaee(NaeeSearch.Search(views, stats, keep, naeeMode));
        }
        return report;
    }

    /// <summary>Refuses statistics (e.g. from <c>--merge-stats</c>) that were not collected for a requested criterion.</summary>
    public static void CheckCovers(CriteriaStats stats, IEnumerable<CriterionSpec> criteria)
    {
        var collected = stats.Criteria.Select(c => CriterionSpec.Parse(c).Kind).ToHashSet();
        var missing = criteria.Where(c => NeedsStats(c) && !collected.Contains(c.Kind)).Select(c => c.Name).ToList();
        if (missing.Count > 0)
            throw new MoePruneException(
                $"statistics were collected for {MoePruneException.Summarize(stats.Criteria)}; they cannot score {MoePruneException.Summarize(missing)}", missing);
    }

    private static bool NeedsStats(CriterionSpec c) =>
        CriterionInfo.Group(c.Kind) != CriterionGroup.Weight && c.Kind != CriterionKind.Random;
}
