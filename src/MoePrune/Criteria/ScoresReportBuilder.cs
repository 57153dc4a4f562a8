using MoePrune.Observation;

namespace MoePrune.Criteria;

/// <summary>
/// Scores every requested criterion into one <see cref="ScoresReport"/>: overall values, per-source
/// values for the criteria computed from routing/activation sums (the only ones kept per source), and
/// the NAEE search when naee is requested with a kept count.
/// </summary>
public static class ScoresReportBuilder
{
    public static ScoresReport Build(IReadOnlyList<CriterionSpec> criteria, CriteriaStats? stats, IReadOnlyList<IMoeLayerView>? views,
        string model, int seed = 0, int? naeeKeep = null, NaeeMode naeeMode = NaeeMode.Exhaustive, int naeeCap = NaeeSearch.DefaultCap)
    {
        var report = new ScoresReport { Metadata = ScoresMetadata.From(stats, model, seed) };
        foreach (var spec in criteria.Where(c => c.Kind != CriterionKind.Naee))
        {
            report.Add(CriteriaScorer.Score(spec, stats, views, seed));
            if (stats is null || !HasPerSourceValues(spec.Kind)) continue;
            foreach (var source in stats.Sources.Keys)
                report.Add(CriteriaScorer.Score(spec, stats.ForSource(source), views, seed), source);
        }
        if (criteria.Any(c => c.Kind == CriterionKind.Naee))
        {
            if (naeeKeep is not { } keep)
                throw new MoePruneException("naee: needs the number of experts to keep per layer (--keep or --drop)");
            if (stats is null || views is null)
                throw new MoePruneException("naee: needs calibration statistics and the model's MoE layers");
            report.AddNaee(NaeeSearch.Search(views, stats, keep, naeeMode, naeeCap));
        }
        return report;
    }

    /// <summary>Criteria whose statistics are also kept per calibration source.</summary>
    public static bool HasPerSourceValues(CriterionKind kind) =>
        CriterionInfo.Group(kind) is CriterionGroup.Inference or CriterionGroup.Activation
        || kind is CriterionKind.Frequency or CriterionKind.Reap;
}
