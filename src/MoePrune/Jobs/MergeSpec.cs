using System.Text.Json.Nodes;
using MoePrune.Criteria.Statistics;
using MoePrune.Merging;
using MoePrune.Merging.Merge;
using MoePrune.Merging.Partition;
using MoePrune.Merging.Similarity;
using MoePrune.Pruning;

namespace MoePrune.Jobs;

/// <summary>
/// What one merge round does (docs/MERGING.md): a similarity, a grouping into r groups per layer (exactly one of
/// <see cref="Groups"/>, <see cref="Ratio"/> and <see cref="GroupsMapFile"/>) and a merge method, or a
/// <see cref="Preset"/> that sets all three. Unset choices take the preset's, else cka / auto / uniform.
/// The calibration pass collects only what those choices read (<see cref="Statistics"/>); the similarity's
/// input sample holds <see cref="CalibrationSettings.InputSampleRows"/> rows per layer (the similarity tokens).
/// </summary>
public sealed record MergeSpec
{
    /// <summary>Default rows of each layer's input sample for the data-centric similarities and the learned merge.</summary>
    public const int DefaultSimilarityTokens = LayerInputSample.DefaultRows;

    public MergePreset? Preset { get; init; }
    public SimilarityKind? Similarity { get; init; }
    public MergeMethod? Merge { get; init; }
    public PartitionMethod? Partition { get; init; }
    public PartitionObjectiveKind? Objective { get; init; }
    /// <summary>Merged experts per layer, r (top-k ≤ r &lt; E).</summary>
    public int? Groups { get; init; }
    /// <summary>Fraction of each layer's experts merged away: r = E − ⌊E·ratio⌋.</summary>
    public double? Ratio { get; init; }
    /// <summary>JSON: decoder-layer index → groups of original expert indices (<see cref="GroupsMap"/>).</summary>
    public string? GroupsMapFile { get; init; }
    public CalibrationSettings Calibration { get; init; } = new();
    public CkaKernel Kernel { get; init; } = CkaKernel.Linear;
    public SurrogateForm Surrogate { get; init; } = SurrogateForm.DownGateUp;
    /// <summary>Extra mixed input rows per layer for the data-centric similarities (<see cref="EmbeddingMixup"/>); 0 = off.</summary>
    public int MixupRows { get; init; }
    /// <summary>Full-batch Adam steps of the learned merge (<see cref="LayerMergeOptions.LearnedSteps"/>).</summary>
    public int LearnedSteps { get; init; } = new LayerMergeOptions().LearnedSteps;
    /// <summary>Allow layers to end with different expert counts (a groups map that differs per layer; non-portable export).</summary>
    public bool NonUniform { get; init; }
    /// <summary>Drop the MTP layers instead of pruning their experts to the merged count by weight norm (<see cref="MtpChoice"/>).</summary>
    public bool DropMtp { get; init; }
    public OptionNames Names { get; init; } = OptionNames.Neutral;

    public SimilarityKind SimilarityKind => Similarity ?? Preset?.Similarity ?? SimilarityKind.Cka;
    public MergeMethod MergeMethod => Merge ?? Preset?.Merge ?? MergeMethod.Uniform;
    public PartitionMethod PartitionMethod => Partition ?? Preset?.Partition ?? PartitionMethod.Auto;
    public PartitionObjectiveKind ObjectiveKind => Objective ?? PartitionObjectiveKind.AverageWithin;

    /// <summary>With a groups map the similarity is computed (for the record) only when one was asked for.</summary>
    public bool ComputesSimilarity => GroupsMapFile is null || Similarity is not null || Preset is not null;

    /// <summary>The per-layer options of <see cref="LayerMerger"/>.</summary>
    public LayerMergeOptions Options() => new()
    {
        Similarity = SimilarityKind,
        Cka = new CkaOptions { Kernel = Kernel },
        Surrogate = Surrogate,
        MixupRows = MixupRows,
        Seed = Calibration.Seed,
        Partition = new PartitionOptions { Method = PartitionMethod, Objective = ObjectiveKind },
        Merge = MergeMethod,
        LearnedSteps = LearnedSteps,
    };

    /// <summary>The merged expert count r of a layer of <paramref name="numExperts"/> experts (not checked against top-k).</summary>
    public int GroupsFor(int numExperts) => Groups ?? numExperts - (int)Math.Floor(numExperts * Ratio!.Value + 1e-9);

    /// <summary>Whether the layer's input sample is read (data-centric similarity, mean-input surrogate, learned merge).</summary>
    public bool NeedsInputs => ComputesSimilarity && SimilarityKind is SimilarityKind.Cka or SimilarityKind.OutputMean
                               || ComputesSimilarity && SimilarityKind == SimilarityKind.Surrogate && Surrogate == SurrogateForm.MeanInputJacobian
                               || MergeMethod == MergeMethod.Learned;

    /// <summary>Whether routed-token counts are read (frequency merges, dominant grouping).</summary>
    public bool NeedsCounts => MergeMethods.NeedsCounts(MergeMethod) || GroupsMapFile is null && PartitionMethod == PartitionMethod.Dominant;

    /// <summary>Whether the router logits of every calibration token are read (router-logit similarity).</summary>
    public bool NeedsRouterLogits => ComputesSimilarity && SimilarityKind == SimilarityKind.RouterLogits;

    /// <summary>What the calibration pass must collect besides routing counts; null when no pass is needed.</summary>
    public IReadOnlyList<StatisticKind>? Statistics()
    {
        if (!NeedsInputs && !NeedsCounts && !NeedsRouterLogits) return null;
        var kinds = new List<StatisticKind> { RoutingCounts.Kind };
        if (NeedsInputs) kinds.Add(LayerInputSample.Kind);
        if (NeedsRouterLogits) kinds.Add(RouterLogitGram.Kind);
        return kinds;
    }

    /// <summary>The checks that need no model: exactly one group count, ranges, combinations.</summary>
    public void Check()
    {
        var n = Names;
        int given = (Groups is null ? 0 : 1) + (Ratio is null ? 0 : 1) + (GroupsMapFile is null ? 0 : 1);
        if (given != 1)
            throw new MoePruneException($"merge: give exactly one of {n.OneOf(OptionNames.Groups, OptionNames.Keep, OptionNames.Ratio, OptionNames.GroupsMap)}");
        if (Groups is < 1) throw new MoePruneException($"{n[OptionNames.Groups]}: {Groups} must be at least 1");
        if (Ratio is { } r && !(r > 0 && r < 1)) throw new MoePruneException($"{n[OptionNames.Ratio]}: {r} must be in (0, 1)");
        if (Preset is { } p)
        {
            var clash = new[] { (Similarity is not null, OptionNames.Similarity), (Merge is not null, OptionNames.Merge), (Partition is not null, OptionNames.Partition) }
                .Where(c => c.Item1).Select(c => n[c.Item2]).ToList();
            if (clash.Count > 0)
                throw new MoePruneException($"{n[OptionNames.Preset]} {p.Name}: sets the similarity, grouping and merge itself; do not combine it with {string.Join(" or ", clash)}");
        }
        if (GroupsMapFile is not null && (Partition is not null || Objective is not null))
            throw new MoePruneException($"{n[OptionNames.GroupsMap]}: gives the groups itself; do not combine it with {n.OneOf(OptionNames.Partition, OptionNames.Objective)}");
        if (GroupsMapFile is not null && !File.Exists(GroupsMapFile))
            throw new MoePruneException($"{n[OptionNames.GroupsMap]} {GroupsMapFile}: file not found");
        if (MixupRows < 0) throw new MoePruneException($"{n[OptionNames.Mixup]}: {MixupRows} must not be negative");
        if (MixupRows > 0 && !(ComputesSimilarity && SimilarityKind is SimilarityKind.Cka or SimilarityKind.OutputMean))
            throw new MoePruneException($"{n[OptionNames.Mixup]}: mixes the inputs of the data-centric similarities (cka, output-mean), not of {SimilarityKinds.Name(SimilarityKind)}");
        if (LearnedSteps < 0) throw new MoePruneException($"{n[OptionNames.LearnedSteps]}: {LearnedSteps} must not be negative");
        if (Calibration.InputSampleRows < 1)
            throw new MoePruneException($"{n[OptionNames.SimilarityTokens]}: {Calibration.InputSampleRows} must be at least 1");
        if (Calibration.BatchSize < 1) throw new MoePruneException($"{n[OptionNames.BatchSize]}: {Calibration.BatchSize} must be at least 1");
    }

    /// <summary>Everything that decides the round's outcome (records, run folders).</summary>
    public JsonObject ToJson() => new()
    {
        ["preset"] = Preset?.Name,
        ["similarity"] = ComputesSimilarity ? SimilarityKinds.Name(SimilarityKind) : null,
        ["cka_kernel"] = SimilarityKind is SimilarityKind.Cka ? MergeChoices.Name(Kernel) : null,
        ["surrogate"] = SimilarityKind is SimilarityKind.Surrogate ? MergeChoices.Name(Surrogate) : null,
        ["mixup_rows"] = MixupRows,
        ["merge"] = MergeMethods.Name(MergeMethod),
        ["learned_steps"] = MergeMethod == MergeMethod.Learned ? LearnedSteps : null,
        ["partition"] = GroupsMapFile is null ? MergeChoices.Name(PartitionMethod) : null,
        ["objective"] = GroupsMapFile is null ? MergeChoices.Name(ObjectiveKind) : null,
        ["groups"] = Groups,
        ["ratio"] = Ratio,
        ["groups_map_file"] = GroupsMapFile is null ? null : Path.GetFullPath(GroupsMapFile),
        ["non_uniform"] = NonUniform,
        ["drop_mtp"] = DropMtp,
        ["similarity_tokens"] = Calibration.InputSampleRows,
        ["calibration"] = new JsonObject
        {
            ["spec"] = Calibration.Spec, ["sequences"] = Calibration.Sequences, ["length"] = Calibration.Length,
            ["seed"] = Calibration.Seed, ["batch_size"] = Calibration.BatchSize,
        },
    };

    /// <summary>
    /// A removal plan with the round's expert counts, to refuse impossible counts before any pass: the first r slots, or
    /// under group-limited routing the first r/n_group of every routing group; MTP layers at the same count, or dropped.
    /// </summary>
    internal static ExpertPlan CountPlan(Models.MoeConfig config, IReadOnlyDictionary<int, int> groupsPerLayer, bool dropMtp)
    {
        int g = config.Groups.IsGroupLimited ? config.Groups.NGroup : 1;
        IReadOnlyList<int> First(int experts, int r) => r % g != 0 ? Enumerable.Range(0, r).ToArray()
            : Enumerable.Range(0, g).SelectMany(group => Enumerable.Range(group * (experts / g), r / g)).ToArray();
        var kept = groupsPerLayer.ToDictionary(kv => kv.Key, kv => First(config.ExpertsInLayer(kv.Key), kv.Value));
        var counts = groupsPerLayer.Values.Distinct().ToList();
        if (config.NumMtpLayers > 0 && !dropMtp && counts.Count == 1)
            for (int l = config.NumHiddenLayers; l < config.StoredLayers; l++) kept[l] = First(config.NumExperts, counts[0]);
        var plan = ExpertPlan.Keep(kept);
        plan.DropMtpLayers = dropMtp;
        return plan;
    }
}
