using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Observation;

namespace MoePrune.Layerwise;

/// <summary>
/// The calibration pass layer by layer: the same batches as <see cref="CalibrationPass.Collect"/> (by source, in
/// order, <c>batchSize</c> sequences at a time), the same <see cref="CriteriaCollector"/> seeing the same routing
/// events, so the statistics equal the in-memory pass's up to fp32 summation order. Each MoE layer is shown to
/// <c>afterLayer</c> while still loaded, with its statistics complete (weight criteria, NAEE). Gradient criteria
/// need a backward through the whole model and are refused.
/// </summary>
public static class LayerwiseCalibration
{
    /// <summary>The batches of <paramref name="data"/> in <see cref="CalibrationPass.Collect"/>'s order; the source is set for a mix.</summary>
    public static IReadOnlyList<LayerBatch> Batches(CalibrationSet data, int batchSize) =>
        data.Sequences.GroupBy(s => s.Source)
            .SelectMany(g => g.Chunk(batchSize).Select(chunk => new LayerBatch(
                chunk.SelectMany(s => s.Ids.Select(i => (long)i)).ToArray(), chunk.Length, data.SequenceLength, null, data.IsMix ? g.Key : null)))
            .ToList();

    public static (CriteriaStats Stats, long HiddenBytes, bool Spilled) Collect(LayerwiseCheckpoint checkpoint, CalibrationSet data,
        IReadOnlyList<CriterionSpec> criteria, int inputSampleRows = LayerInputSample.DefaultRows, int batchSize = CalibrationPass.DefaultBatchSize,
        Action<IMoeLayerView, CriteriaStats>? afterLayer = null, long hiddenMemoryBytes = long.MaxValue, string? spillDir = null,
        Action<LayerwiseProgress>? progress = null)
    {
        RefuseGradients(criteria);
        return Collect(checkpoint, data, new CriteriaCollector(criteria, checkpoint.Config.VocabSize, inputSampleRows, data.Describe()),
                       batchSize, afterLayer, hiddenMemoryBytes, spillDir, progress);
    }

    /// <summary>The same for an explicit list of statistics (routing counts always), e.g. what a merge reads.</summary>
    public static (CriteriaStats Stats, long HiddenBytes, bool Spilled) Collect(LayerwiseCheckpoint checkpoint, CalibrationSet data,
        IReadOnlyList<StatisticKind> statistics, int inputSampleRows = LayerInputSample.DefaultRows, int batchSize = CalibrationPass.DefaultBatchSize,
        Action<IMoeLayerView, CriteriaStats>? afterLayer = null, long hiddenMemoryBytes = long.MaxValue, string? spillDir = null,
        Action<LayerwiseProgress>? progress = null)
    {
        var gradient = statistics.Where(k => k.Needs.Gradients).Select(k => k.Description).ToList();
        if (gradient.Count > 0)
            throw new MoePruneException($"statistics {string.Join(", ", gradient)}: need a backward pass through the whole model, which a layer-by-layer run never holds");
        return Collect(checkpoint, data, new CriteriaCollector(statistics, checkpoint.Config.VocabSize, inputSampleRows, data.Describe()),
                       batchSize, afterLayer, hiddenMemoryBytes, spillDir, progress);
    }

    private static (CriteriaStats Stats, long HiddenBytes, bool Spilled) Collect(LayerwiseCheckpoint checkpoint, CalibrationSet data,
        CriteriaCollector collector, int batchSize, Action<IMoeLayerView, CriteriaStats>? afterLayer, long hiddenMemoryBytes, string? spillDir,
        Action<LayerwiseProgress>? progress)
    {
        if (batchSize < 1) throw new MoePruneException($"calibration pass: batch size {batchSize} must be at least 1");
        if (data.Sequences.Count == 0) throw new MoePruneException($"calibration: '{data.Spec}' gave no calibration sequences");
        var hooks = new LayerwiseHooks
        {
            Observers = [collector],
            BeforeBatch = (b, _) => collector.CurrentSource = b.Source,
            AfterLayer = layer => { if (layer.Moe is { } moe) afterLayer?.Invoke(moe, collector.Stats); },
        };
        var (bytes, spilled) = LayerwiseRunner.Run(checkpoint, Batches(data, batchSize), hooks, hiddenMemoryBytes, spillDir, progress);
        return (collector.Stats, bytes, spilled);
    }

    /// <summary>Refuses gradient criteria (one line naming them).</summary>
    public static void RefuseGradients(IEnumerable<CriterionSpec> criteria)
    {
        var list = criteria.ToList();
        var gradient = list.Where(c => c.Needs.Gradients).Select(c => c.Name).ToList();
        if (gradient.Count == 0) return;
        var others = list.Where(c => !c.Needs.Gradients).Select(c => c.Name).ToList();
        throw new MoePruneException(
            $"criteria {string.Join(",", gradient)}: gradient criteria need a backward pass through the whole model, which a layer-by-layer run never holds; "
            + (others.Count > 0 ? $"score them in memory, or only {string.Join(",", others)}" : "score them in memory"), gradient);
    }
}
