using System.Diagnostics;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Merging;
using MoePrune.Merging.Merge;
using MoePrune.Merging.Partition;
using MoePrune.Models;
using MoePrune.Pruning;
using static TorchSharp.torch;

namespace MoePrune.Jobs;

/// <summary>
/// One merge round on the CURRENT model (docs/MERGING.md §5): every check that needs no calibration first (group
/// counts, the groups map, expert counts across layers), then one calibration pass collecting only what the
/// similarity and merge read (<see cref="MergeSpec.Statistics"/>; none for data-free choices; the caller's
/// statistics when <see cref="RoundInput.Statistics"/> is set), then per sparse layer similarity → grouping →
/// merged experts and router rows (<see cref="LayerMerger"/>). The result is a <see cref="RoundContext"/> like a
/// pruning round's: its plan keeps each group's lowest member in slot order and replaces every group of two or
/// more by its merged expert, its lineage records the merged groups, and the same hooks run (a fine-tune hook is
/// where router recalibration or distillation plugs in). Under group-limited routing the grouping stays within each
/// routing group, r/n_group merged experts per group (<see cref="RoutingGroupPartition"/>); MTP layers are pruned to
/// the merged count by weight norm or dropped (<see cref="MtpChoice"/>, <see cref="MergeSpec.DropMtp"/>).
/// </summary>
public static class MergeRound
{
    public const string Method = "merge";

    public static RoundContext Run(RoundInput input, MergeSpec spec, RoundHooks? hooks = null, Action<ScoringProgress>? progress = null)
    {
        spec.Check();
        var model = input.Model;
        var (explicitGroups, groupCounts) = Plan(input.Model.Config, Experts(input.Model), input.Lineage, spec);
        var options = spec.Options();
        var (stats, calibration, seconds) = Statistics(input, spec, progress);
        var outcome = new MergeOutcome(spec)
        {
            Calibration = calibration, CalibrationSeconds = seconds,
            CalibrationTokens = calibration is null ? 0 : stats?.Tokens ?? 0,
        };
        try
        {
            var clock = Stopwatch.StartNew();
            var routing = model.Config.Family.CreateRouting(model.Config);
            foreach (var view in model.MoeLayers)
            {
                int layer = view.LayerIndex;
                ExpertGrouping? given = null;
                if (explicitGroups is not null && (!explicitGroups.TryGetValue(layer, out given) || given.Count == view.NumExperts))
                    continue;                                                                       // unchanged layer
                outcome.Layers[layer] = MergeLayer(view, model.Config.Groups, spec, options, routing, stats, given, groupCounts[layer], outcome);
                foreach (var t in outcome.Layers[layer].Merged.Experts.SelectMany(e => new[] { e.Weights.GateProj, e.Weights.UpProj, e.Weights.DownProj, e.RouterRow }))
                    t.DetachFromDisposeScope();                                                    // owned by the outcome
                Native.MallocTuning.Trim();                                                        // the layer's working copies back before the next
            }
            outcome.MergeSeconds = clock.Elapsed.TotalSeconds;
            return Finish(input, spec, outcome, hooks);
        }
        catch
        {
            outcome.Dispose();
            throw;
        }
    }

    /// <summary>Every check that needs no calibration (the first step of <see cref="Run"/>); the expert count of every sparse layer after the round.</summary>
    public static IReadOnlyDictionary<int, int> Check(RoundInput input, MergeSpec spec)
    {
        spec.Check();
        return Plan(input.Model.Config, Experts(input.Model), input.Lineage, spec).Counts;
    }

    /// <summary>Each sparse layer's current expert count.</summary>
    private static Dictionary<int, int> Experts(MoeForCausalLM model) => model.MoeLayers.ToDictionary(v => v.LayerIndex, v => v.NumExperts);

    /// <summary>
    /// Explicit groupings (groups map) or requested counts, checked against the model's config and the current expert
    /// count of each sparse layer (<paramref name="experts"/>); the expert count of every sparse layer after the round.
    /// </summary>
    internal static (SortedDictionary<int, ExpertGrouping>? Groups, Dictionary<int, int> Counts) Plan(MoeConfig config, IReadOnlyDictionary<int, int> experts,
                                                                                                       ExpertLineage lineage, MergeSpec spec)
    {
        var n = spec.Names;
        FamilyProblem(config, spec);
        SortedDictionary<int, ExpertGrouping>? groups = null;
        Dictionary<int, int> counts;
        if (spec.GroupsMapFile is { } file)
        {
            var map = GroupsMap.Load(file);
            foreach (int layer in map.Keys.Where(experts.ContainsKey))
                if (!IsIdentity(lineage, layer))
                    throw new MoePruneException($"{file}: layer {layer}: names original experts, but an earlier round already changed that layer's experts");
            groups = GroupsMap.Validate(file, map, config.NumHiddenLayers, experts, config.TopK);
            if (config.Groups.IsGroupLimited)
                foreach (var (layer, grouping) in groups)
                    if (RoutingGroupPartition.Problem(grouping, config.Groups.NGroup) is { } crossing)
                        throw new MoePruneException($"{file}: layer {layer}: {crossing}");
            counts = experts.ToDictionary(kv => kv.Key, kv => groups.TryGetValue(kv.Key, out var g) ? g.Count : kv.Value);
            var distinct = counts.Values.Distinct().ToList();
            if (distinct.Count > 1 && !spec.NonUniform)
                throw new MoePruneException($"{file}: layers would end with different expert counts ({string.Join(", ", counts.OrderBy(kv => kv.Key).Select(kv => $"layer {kv.Key}: {kv.Value}"))}); "
                    + $"stock loaders need one count per model: give every sparse layer the same number of groups, or {n[OptionNames.NonUniform]} for a non-portable export");
        }
        else
        {
            string option = spec.Groups is not null ? $"{n[OptionNames.Groups]} {spec.Groups}" : $"{n[OptionNames.Ratio]} {spec.Ratio}";
            counts = [];
            foreach (var (layer, e) in experts)
            {
                int r = spec.GroupsFor(e);
                if (GroupValidation.GroupCount(layer, r, e, config.TopK) is { } problem)
                    throw new MoePruneException($"{option}: {problem}");
                if (config.Groups.IsGroupLimited && config.Groups.CountProblem(r, config.TopK) is { } groupProblem)
                    throw new MoePruneException($"{option}: layer {layer} cannot keep {r} merged experts: {groupProblem} "
                        + "(group-limited routing merges within each routing group, the same number from every group)");
                int g = config.Groups.IsGroupLimited ? config.Groups.NGroup : 1;                 // the exact search runs per routing group
                if (spec.PartitionMethod == PartitionMethod.Exact && ExactPartitioner.PartitionCount(e / g, r / g) > ExactPartitioner.DefaultCap)
                    throw new MoePruneException($"{n[OptionNames.Partition]} exact: layer {layer} has {ExactPartitioner.PartitionCount(e / g, r / g):G3} groupings of {e / g} experts into {r / g}, "
                        + $"more than the {ExactPartitioner.DefaultCap:G3} the exact search visits; use auto or hierarchical");
                counts[layer] = r;
            }
        }
        ExpertSurgery.Validate(config, MergeSpec.CountPlan(config, counts, spec.DropMtp), allowNonUniform: spec.NonUniform);
        return (groups, counts);
    }

    /// <summary>
    /// What merging does not handle for a family, refused before any work: the learned merge on routers with a
    /// score-correction bias (its fit routes without the bias); and dropping MTP layers the checkpoint does not have.
    /// </summary>
    private static void FamilyProblem(MoeConfig config, MergeSpec spec)
    {
        if (spec.DropMtp && config.NumMtpLayers == 0)
            throw new MoePruneException($"{spec.Names[OptionNames.DropMtp]}: {config.Path} has no MTP layers ({MoeConfigParser.MtpLayersKey} is 0)");
        if (spec.MergeMethod == MergeMethod.Learned && config.Family.RouterScoreCorrectionBias)
            throw new MoePruneException($"{spec.Names[OptionNames.Merge]} learned: {config.ModelType} routers select with a score-correction bias, "
                + "which the learned merge's fit does not model; use uniform, frequency or max-frequency");
    }

    private static bool IsIdentity(ExpertLineage lineage, int layer) =>
        lineage.Slots(layer) == lineage.OriginalCount(layer)
        && Enumerable.Range(0, lineage.Slots(layer)).All(s => lineage.Originals(layer, s) is [var o] && o == s);

    /// <summary>The caller's statistics (checked to hold what the round reads) or one calibration pass; null when nothing is read.</summary>
    private static (CriteriaStats? Stats, System.Text.Json.Nodes.JsonObject? Calibration, double Seconds) Statistics(RoundInput input, MergeSpec spec, Action<ScoringProgress>? progress)
    {
        var kinds = spec.Statistics();
        if (kinds is null) return (null, null, 0);
        if (input.Statistics is { } given)
        {
            foreach (var view in input.Model.MoeLayers)
                foreach (var kind in kinds)
                    if (!given.Layers.TryGetValue(view.LayerIndex, out var s) || !s.Has(kind) || s.NumExperts != view.NumExperts)
                        throw new MoePruneException($"merge round {input.Round}: the given statistics have no {kind.Description} for layer {view.LayerIndex} with {view.NumExperts} experts");
            return (given, null, 0);
        }
        return spec.Calibration.Collect(input.Model, input.SourceDir, kinds, progress);
    }

    /// <summary>One sparse layer: similarity (from its weights or statistics), grouping, merged experts (created in the caller's dispose scope).</summary>
    internal static LayerMergeResult MergeLayer(Observation.IMoeLayerView view, GroupRouting routingGroups, MergeSpec spec, LayerMergeOptions options, IRoutingStrategy routing,
        CriteriaStats? stats, ExpertGrouping? given, int groups, MergeOutcome outcome)
    {
        int layer = view.LayerIndex;
        var layerStats = stats?.Layer(layer);
        using var scope = NewDisposeScope();
        Tensor? inputs = null;
        if (layerStats?.Find<LayerInputSample>(LayerInputSample.Kind) is { } sample && spec.NeedsInputs)
        {
            int rows = Math.Min(sample.Rows, spec.Calibration.InputSampleRows);
            if (rows == 0) throw new MoePruneException($"layer {layer}: no calibration token reached the layer, so its input sample is empty");
            inputs = sample.ToTensor(ScalarType.Float32).narrow(0, 0, rows);                       // (N, H)
            outcome.InputRows[layer] = rows;
        }
        double[]? counts = layerStats?.Routing.Count.Select(c => (double)c).ToArray();              // (E)
        if (counts is not null) outcome.RoutedCounts[layer] = counts;
        var input = new LayerMergeInput
        {
            LayerIndex = layer, TopK = view.TopK, Weights = MoeLayerWeights.FromView(view),
            Inputs = inputs, RoutedCounts = counts, Routing = routing,
        };
        SimilarityMatrix? similarity = null;
        if (spec.ComputesSimilarity)
            similarity = spec.NeedsRouterLogits
                ? layerStats!.Find<RouterLogitGram>(RouterLogitGram.Kind)!.Similarity()
                : LayerMerger.Similarity(input, options);
        PartitionResult? partition = given is not null ? null
            : routingGroups.IsGroupLimited ? RoutingGroupPartition.Solve(similarity!, groups, routingGroups.NGroup, options.Partition, counts)
            : Partitioner.Solve(similarity!, groups, options.Partition, counts);
        var grouping = given ?? partition!.Grouping;
        var merged = LayerMerger.Merge(input, grouping, options);
        foreach (var e in merged.Experts)                                                           // the caller's, not this scope's
            foreach (var t in new[] { e.Weights.GateProj, e.Weights.UpProj, e.Weights.DownProj, e.RouterRow }) t.MoveToOuterDisposeScope();
        return new LayerMergeResult(layer, similarity, partition, grouping, merged);
    }

    /// <summary>The plan, lineage and choice of the merged layers; then the hooks.</summary>
    private static RoundContext Finish(RoundInput input, MergeSpec spec, MergeOutcome outcome, RoundHooks? hooks)
    {
        var model = input.Model;
        var experts = Experts(model);
        var mtp = MtpChoice.For(model, MergedCount(model.Config, experts, outcome), spec.DropMtp);
        var (selections, plan, lineage) = BuildPlan(model.Config, experts, outcome, input.Lineage, mtp, spec, (layer, slot, m, oneHot) =>
        {
            var bias = oneHot ? null : MergedBias(model.Model.Layers[layer].Moe!.Router.ScoreCorrectionBias, m);
            if (bias is not null) outcome.Biases.Add(bias);
            return new ExpertTensors(m.Weights.GateProj, m.Weights.UpProj, m.Weights.DownProj, m.RouterRow, bias);
        });
        var choice = new RoundChoice(Method, selections, null, null, outcome.Calibration);
        var roundSpec = new RoundSpec { Calibration = spec.Calibration, DropMtp = spec.DropMtp, Names = spec.Names };
        var round = new RoundContext(input.Round, model, roundSpec, choice, plan, input.Lineage, lineage) { Merge = outcome, Mtp = mtp };
        return RoundHooks.Apply(round, hooks);
    }

    /// <summary>The main layers' expert count after the round (the MTP layers follow it), or the config's when it differs across layers.</summary>
    internal static int MergedCount(MoeConfig config, IReadOnlyDictionary<int, int> experts, MergeOutcome outcome)
    {
        var counts = experts.Select(kv => outcome.Layers.TryGetValue(kv.Key, out var r) ? r.Grouping.Count : kv.Value).Distinct().ToList();
        return counts.Count == 1 ? counts[0] : config.NumExperts;
    }

    /// <summary>
    /// The round's selections (each group's lowest member keeps its slot), expert plan (every group of two or more replaced by
    /// the merged expert whose tensors <paramref name="tensors"/> gives: layer, slot, merged expert, and whether it is one
    /// member with coefficient 1) with the MTP layers' choice, and the lineage after it; validated against the config.
    /// </summary>
    internal static (SortedDictionary<int, LayerSelection> Selections, ExpertPlan Plan, ExpertLineage After) BuildPlan(MoeConfig config,
        IReadOnlyDictionary<int, int> experts, MergeOutcome outcome, ExpertLineage before, MtpChoice? mtp, MergeSpec spec,
        Func<int, int, MergedExpert, bool, ExpertTensors> tensors)
    {
        var keep = new Dictionary<int, IReadOnlyList<int>>();
        var selections = new SortedDictionary<int, LayerSelection>();
        var lineage = before;
        foreach (var (layer, count) in experts.OrderBy(kv => kv.Key))
        {
            var lowest = outcome.Layers.TryGetValue(layer, out var r) ? r.Grouping.Groups.Select(g => g[0]).ToArray()
                                                                      : Enumerable.Range(0, count).ToArray();
            selections[layer] = LayerSelection.FromRemoved(layer, count, Enumerable.Range(0, count).Except(lowest));
            if (r is null) continue;
            keep[layer] = lowest;
            lineage = lineage.Merge(layer, r.Grouping.Groups.Select(g => (IReadOnlyList<int>)g).ToList());
        }
        mtp?.AddTo(keep);
        var plan = ExpertPlan.Keep(keep);
        plan.DropMtpLayers = mtp?.Dropped == true;
        foreach (var (layer, result) in outcome.Layers)
            for (int slot = 0; slot < result.Merged.Count; slot++)
            {
                var m = result.Merged.Experts[slot];
                if (m.Members.Length == 1) continue;                                                // copied unchanged
                int single = OneHotMember(m);
                plan.Replace(layer, slot, tensors(layer, slot, m, single >= 0), derivedFrom: single >= 0 ? m.Members[single] : ExpertSlot.NoOriginal);
            }
        ExpertSurgery.Validate(config, plan, spec.NonUniform);
        return (selections, plan, lineage);
    }

    /// <summary>The member a merged expert equals (coefficient 1, the others 0, scale 1), or −1.</summary>
    internal static int OneHotMember(MergedExpert m)
    {
        int single = Array.FindIndex(m.Coefficients, a => a == 1.0);
        return single >= 0 && m.Scale == 1.0 && m.Coefficients.Count(a => a != 0) == 1 ? single : -1;
    }

    /// <summary>
    /// The merged expert's <c>e_score_correction_bias</c> entry where the router has one: Σ α_i·b_i with the coefficients of
    /// its weights and router row (a scalar, fp32); null for routers without the bias.
    /// </summary>
    internal static Tensor? MergedBias(Tensor? scoreCorrectionBias, MergedExpert m)
    {
        if (scoreCorrectionBias is not { } b) return null;
        using var scope = NewDisposeScope();
        var entries = m.Members.Select(e => b[e].detach().to(ScalarType.Float32)).ToArray();             // () each
        return WeightedSum.Combine(entries, m.Coefficients).DetachFromDisposeScope();                    // ()
    }
}
