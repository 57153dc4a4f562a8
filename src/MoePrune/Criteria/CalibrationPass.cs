using MoePrune.Calibration;
using MoePrune.Criteria.Statistics;
using MoePrune.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Criteria;

/// <summary>Progress of a calibration pass: tokens done out of the total, and the source being read.</summary>
public sealed record ScoringProgress(long Tokens, long TotalTokens, string Source);

/// <summary>
/// The calibration pass: <see cref="Collect"/> runs one forward over the calibration data (plus one backward of
/// the summed next-token loss when a gradient criterion is asked for) with a <see cref="CriteriaCollector"/>
/// attached, so every requested criterion's statistics come from the same pass. Scoring them into a report is
/// <c>Jobs.ScoreJob.Report</c>.
/// </summary>
public static class CalibrationPass
{
    public const int DefaultBatchSize = 8;

    /// <summary>
    /// One calibration pass. Sequences are batched <paramref name="batchSize"/> at a time within each
    /// source; with a mix the collector is told the source of each batch. For gradient criteria only the
    /// routed experts' weights require gradients during the pass; their <c>.grad</c> accumulates over all
    /// batches and is added to the statistics once at the end (the same sum as per-batch accumulation).
    /// The model's <c>requires_grad</c> flags and observers are restored afterwards.
    /// </summary>
    public static CriteriaStats Collect(MoeForCausalLM model, CalibrationSet data, IReadOnlyList<CriterionSpec> criteria,
        int inputSampleRows = LayerInputSample.DefaultRows, int batchSize = DefaultBatchSize, Action<ScoringProgress>? progress = null) =>
        Run(model, data, new CriteriaCollector(criteria, model.Config.VocabSize, inputSampleRows, data.Describe(), model.Fingerprint),
            batchSize, progress);

    /// <summary>The same pass for an explicit list of statistics (routing counts always), e.g. what a merge needs.</summary>
    public static CriteriaStats Collect(MoeForCausalLM model, CalibrationSet data, IReadOnlyList<StatisticKind> statistics,
        int inputSampleRows = LayerInputSample.DefaultRows, int batchSize = DefaultBatchSize, Action<ScoringProgress>? progress = null) =>
        Run(model, data, new CriteriaCollector(statistics, model.Config.VocabSize, inputSampleRows, data.Describe(), model.Fingerprint),
            batchSize, progress);

    private static CriteriaStats Run(MoeForCausalLM model, CalibrationSet data, CriteriaCollector collector, int batchSize, Action<ScoringProgress>? progress)
    {
        if (batchSize < 1) throw new MoePruneException($"calibration pass: batch size {batchSize} must be at least 1");
        if (data.Sequences.Count == 0) throw new MoePruneException($"calibration: '{data.Spec}' gave no calibration sequences");
        var saved = model.named_parameters().Select(p => (p.parameter, p.parameter.requires_grad)).ToList();
        model.Observers.Add(collector);
        try
        {
            foreach (var (_, p) in model.named_parameters()) p.requires_grad_(false);
            if (collector.WantsGradients)
                foreach (var view in model.MoeLayers)                                      // the routed experts' weights only
                    for (int e = 0; e < view.NumExperts; e++)
                        foreach (var w in new[] { view.GateProj(e), view.UpProj(e), view.DownProj(e) }) w.requires_grad_(true);
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
}
