using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Jobs;
using MoePrune.Merging;
using MoePrune.Merging.Merge;
using MoePrune.Pruning;

namespace MoePrune.Studies;

/// <summary>
/// One row of the merge study at one expert count: a merge round (similarity × merge method, or a preset) or a
/// dropping round (a criterion, uniform per layer). <see cref="ReadsData"/> is false for data-free variants, which
/// give the same model for every calibration seed and are measured once.
/// </summary>
public sealed record MergeStudyVariant(string Name, string Kind, int Groups, MergeSpec? Merge, CriterionSpec? Drop)
{
    public const string MergeKind = "merge", PresetKind = "preset", DropKind = "drop";

    public bool ReadsData => Merge is not null ? Merge.Statistics() is not null : Drop!.Needs.ReadsStatistics;
    public bool Learned => Merge?.MergeMethod == MergeMethod.Learned;

    /// <summary>The measurement's key in the raw file: name, count and seed ("-" for data-free variants).</summary>
    public string Key(int seed) => $"{Name}|{Groups}|{(ReadsData ? seed.ToString() : "-")}";

    /// <summary>The round on the unpruned model with the seed's statistics.</summary>
    public RoundContext Run(RoundInput input, CalibrationSettings calibration, RoundHooks hooks) => Merge is not null
        ? MergeRound.Run(input, Merge with { Calibration = calibration }, hooks)
        : PruneRound.Run(input, new RoundSpec { Criterion = Drop, Selection = new SelectionRequest { Keep = Groups }, Calibration = calibration }, hooks);

    /// <summary>
    /// Every variant of the request, in the order they are measured: per count, the dropping baselines, the presets, then
    /// every similarity × merge method except learned; the learned merges come last (they cost the most).
    /// </summary>
    public static IReadOnlyList<MergeStudyVariant> All(MergeStudyRequest r)
    {
        var first = new List<MergeStudyVariant>();
        var learned = new List<MergeStudyVariant>();
        foreach (int groups in r.Groups)
        {
            foreach (var d in r.Drops)
            {
                var spec = CriterionSpec.Parse(d);
                first.Add(new(spec.Name, DropKind, groups, null, spec));
            }
            foreach (var p in r.Presets)
                first.Add(new(p, PresetKind, groups, new MergeSpec { Preset = MergePresets.Parse(p, "merge study"), Groups = groups }, null));
            foreach (var m in r.Merges)
                foreach (var s in r.Similarities)
                {
                    var spec = new MergeSpec { Similarity = s, Merge = m, Groups = groups, LearnedSteps = r.LearnedSteps };
                    (m == MergeMethod.Learned ? learned : first).Add(new($"{SimilarityKinds.Name(s)} · {MergeMethods.Name(m)}", MergeKind, groups, spec, null));
                }
        }
        return [.. first, .. learned];
    }

    /// <summary>What one calibration pass must collect for every variant of the request.</summary>
    public static IReadOnlyList<StatisticKind> Statistics(IEnumerable<MergeStudyVariant> variants) => variants
        .SelectMany(v => v.Merge?.Statistics() ?? v.Drop?.Needs.Statistics ?? [])
        .Prepend(RoutingCounts.Kind).Distinct().ToList();
}
