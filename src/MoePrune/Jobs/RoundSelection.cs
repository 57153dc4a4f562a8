using MoePrune.Models;
using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Pruning;
using MoePrune.Pruning.Selectors;

namespace MoePrune.Jobs;

/// <summary>
/// The choosing step of a round, on the round's current model: a keep-map (original indices, mapped to current
/// slots through the lineage), a subset selector (naee: searched now, or read from a scores file), or a
/// criterion's scores (computed now, or read from a scores file of the same checkpoint) with a uniform or
/// global selection. Under group-limited routing every selection is group-balanced (scores: ranked within each group;
/// naee: only balanced subsets; keep-maps and stored subsets: refused unless balanced), and a global budget is refused.
/// Every check that needs no calibration runs before the calibration pass.
/// </summary>
public static class RoundSelection
{
    public const string KeepMapMethod = "keep-map";

    public static RoundChoice Choose(RoundInput input, RoundSpec spec, Action<ScoringProgress>? progress = null)
    {
        CheckMtp(input.Model.Config, spec, input.Round);
        if (spec.KeepMapFile is { } file) return FromKeepMap(input, spec, file);
        return spec.Criterion!.Needs.SelectsSubsets ? FromSubsets(input, spec, progress) : FromScores(input, spec, progress);
    }

    private static RoundChoice FromKeepMap(RoundInput input, RoundSpec spec, string path)
    {
        var model = input.Model;
        var map = new Dictionary<int, IReadOnlyList<int>>();
        var keepMap = PruneJobKeepMap.Load(path);
        CheckKeepMap(input, spec, path, keepMap);
        foreach (var (layer, originals) in keepMap)
            map[layer] = originals.Select(o => Slot(input, path, layer, o)).ToList();
        var config = model.Config;
        if (config.Groups.IsGroupLimited) GroupBalancedSelection.Validate(config, map, path);
        var mainOnly = ExpertPlan.Keep(map);
        mainOnly.DropMtpLayers = true;                                                  // the MTP layers follow in PruneRound
        ExpertSurgery.Validate(config, mainOnly, allowNonUniform: true);
        var selections = new SortedDictionary<int, LayerSelection>();
        foreach (var view in model.MoeLayers)
        {
            var kept = map.TryGetValue(view.LayerIndex, out var k) ? k : Enumerable.Range(0, view.NumExperts).ToList();
            selections[view.LayerIndex] = LayerSelection.FromRemoved(view.LayerIndex, view.NumExperts,
                Enumerable.Range(0, view.NumExperts).Except(kept));
        }
        return new RoundChoice(KeepMapMethod, selections, null, null, null);
    }

    /// <summary>
    /// Refuses a keep-map that names a layer that is not sparse, an expert outside the layer, an expert twice,
    /// fewer experts than top-k, or different counts per layer without a non-uniform selection: one line naming
    /// the file and the key.
    /// </summary>
    private static void CheckKeepMap(RoundInput input, RoundSpec spec, string path, SortedDictionary<int, IReadOnlyList<int>> keepMap)
    {
        var views = input.Model.MoeLayers.ToDictionary(v => v.LayerIndex);
        foreach (var (layer, originals) in keepMap)
        {
            if (!views.TryGetValue(layer, out var view))
                throw new MoePruneException($"{path}: key \"{layer}\": layer {layer} is not a sparse MoE layer (sparse layers: {string.Join(", ", views.Keys)})");
            int experts = input.Lineage.OriginalCount(layer);
            foreach (int bad in originals.Where(o => o < 0 || o >= experts).Take(1))
                throw new MoePruneException($"{path}: key \"{layer}\": expert {bad} is outside the layer's experts 0..{experts - 1}");
            if (originals.GroupBy(o => o).FirstOrDefault(g => g.Count() > 1) is { } twice)
                throw new MoePruneException($"{path}: key \"{layer}\": expert {twice.Key} is listed twice");
            if (originals.Count < view.TopK)
                throw new MoePruneException($"{path}: key \"{layer}\": keeps {originals.Count} expert(s), fewer than the {view.TopK} each token is routed to (top-k)");
        }
        var counts = views.Values.Select(v => keepMap.TryGetValue(v.LayerIndex, out var k) ? k.Count : v.NumExperts).Distinct().ToList();
        string Counts() => string.Join(", ", views.Values.Select(v => $"layer {v.LayerIndex}: {(keepMap.TryGetValue(v.LayerIndex, out var k) ? k.Count : v.NumExperts)}"));
        if (counts.Count > 1 && !spec.NonUniform)
            throw new MoePruneException($"{path}: layers keep different numbers of experts ({Counts()}), which stock transformers cannot load; "
                + $"give {spec.Names[OptionNames.Global]} to write such a non-portable checkpoint");
        var config = input.Model.Config;
        if (counts.Count > 1 && config.NumMtpLayers > 0 && !spec.DropMtp)
            throw new MoePruneException($"{path}: layers keep different numbers of experts ({Counts()}), but the MTP layers share "
                + $"{config.Family.ExpertCountKey} with them; give {spec.Names[OptionNames.DropMtp]} to drop the MTP layers");
    }

    /// <summary>
    /// The MTP checks that need no calibration: dropping MTP layers the checkpoint does not have (a later round's model
    /// may have dropped them already), and a global budget (layers with different counts) while MTP layers, which share the
    /// expert-count key, are kept.
    /// </summary>
    internal static void CheckMtp(MoeConfig config, RoundSpec spec, int round)
    {
        var n = spec.Names;
        if (spec.DropMtp && config.NumMtpLayers == 0 && round == 1)
            throw new MoePruneException($"{n[OptionNames.DropMtp]}: {config.Path} has no MTP layers ({Models.MoeConfigParser.MtpLayersKey} is 0)");
        if (spec.Selection.Global && spec.KeepMapFile is null && config.NumMtpLayers > 0 && !spec.DropMtp && !config.Groups.IsGroupLimited)
            throw new MoePruneException($"{n[OptionNames.Global]}: {config.Path} has {config.NumMtpLayers} MTP layer(s), which share "
                + $"{config.Family.ExpertCountKey} with the other layers, so every layer must keep the same count; give "
                + $"{n[OptionNames.DropMtp]} to drop the MTP layers");
    }

    /// <summary>The current slot of an original expert named by a keep-map (checked in range by <see cref="CheckKeepMap"/>).</summary>
    private static int Slot(RoundInput input, string path, int layer, int original)
    {
        int slot = input.Lineage.SlotOf(layer, original);
        return slot >= 0 ? slot
            : throw new MoePruneException($"{path}: layer {layer}: expert {original} was removed in an earlier round");
    }

    private static RoundChoice FromSubsets(RoundInput input, RoundSpec spec, Action<ScoringProgress>? progress)
    {
        var views = input.Model.MoeLayers;
        var layers = NaeeSelector.Shapes(views);
        NaeeSelector.Check(layers, spec.Selection);
        var config = input.Model.Config;
        if (config.Groups.IsGroupLimited)                                                 // naee searches balanced subsets only
            foreach (var (_, (experts, _)) in layers) GroupBalancedSelection.DropsPerGroup(config, spec.Selection.DropsFor(experts));
        if (spec.ScoresFile is { } file)
        {
            var stored = CheckedScores(input, spec, file);
            var selections = NaeeSelector.FromReport(stored.Naee, layers, spec.Selection, file);
            if (config.Groups.IsGroupLimited)
                GroupBalancedSelection.Validate(config, selections.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<int>)kv.Value.Kept), file);
            return new RoundChoice(NaeeSelector.Method, selections, null, stored, Clone(stored.Metadata.CalibrationData));
        }
        var (stats, calibration) = Statistics(input, spec, progress);
        var found = NaeeSelector.Select(views, stats, spec.Selection);
        var report = new ScoresReport { Metadata = Metadata(input, stats, spec, calibration) };
        report.Naee = found.ToReport();
        return new RoundChoice(NaeeSelector.Method, found.Selections, null, report, calibration);
    }

    private static RoundChoice FromScores(RoundInput input, RoundSpec spec, Action<ScoringProgress>? progress)
    {
        var criterion = spec.Criterion!;
        Preflight(input, criterion, spec.Selection);
        CriterionScores scores;
        ScoresReport report;
        JsonObject? calibration;
        if (spec.ScoresFile is { } file)
        {
            report = CheckedScores(input, spec, file);
            scores = report.ToScores(criterion.Name);
            calibration = Clone(report.Metadata.CalibrationData);
        }
        else
        {
            CriteriaStats? stats = null;
            calibration = null;
            if (criterion.Needs.ReadsStatistics) (stats, calibration) = Statistics(input, spec, progress);
            scores = CriteriaScorer.Score(criterion, stats, input.Model.MoeLayers, spec.Calibration.Seed);
            report = new ScoresReport { Metadata = Metadata(input, stats, spec, calibration) };
            report.Add(scores);
        }
        var groups = input.Model.Config.Groups;
        var selections = ExpertSelection.Select(scores, spec.Selection, groups);
        return new RoundChoice(ExpertSelection.Method(spec.Selection, groups), selections, scores, report, calibration);
    }

    /// <summary>Runs the selection on all-zero scores so that bad counts or protected experts fail before the calibration pass.</summary>
    private static void Preflight(RoundInput input, CriterionSpec criterion, SelectionRequest selection)
    {
        var zeros = new CriterionScores { Spec = criterion, Drops = DropDirection.Min };
        foreach (var view in input.Model.MoeLayers)
            zeros.Layers[view.LayerIndex] = new LayerScores(view.LayerIndex, view.TopK, new double[view.NumExperts]);
        ExpertSelection.Select(zeros, selection, input.Model.Config.Groups);
    }

    /// <summary>The statistics given with the input, or one calibration pass on the round's model for its criterion.</summary>
    private static (CriteriaStats Stats, JsonObject? Calibration) Statistics(RoundInput input, RoundSpec spec, Action<ScoringProgress>? progress)
    {
        if (input.Statistics is { } given) return (given, null);
        var (stats, data, _) = spec.Calibration.Collect(input.Model, input.SourceDir, [spec.Criterion!], progress);
        return (stats, data);
    }

    /// <summary>A scores file of the round's model as loaded: refused when its fingerprint is missing or differs.</summary>
    private static ScoresReport CheckedScores(RoundInput input, RoundSpec spec, string file)
    {
        var report = ScoresReport.Load(file);
        string? scored = report.Metadata.CheckpointFingerprint;
        string? current = input.Model.Fingerprint;
        if (current is null)
            throw new MoePruneException($"{file}: scores apply to a checkpoint as loaded; round {input.Round} scores its own in-memory model");
        if (scored is null)
            throw new MoePruneException($"{file}: the scores carry no checkpoint fingerprint (written by an older MoePrune?); score this checkpoint again");
        if (scored != current)
            throw new MoePruneException(
                $"{file}: scores were computed on checkpoint {CriteriaStats.Short(scored)}, but {input.SourceDir} is checkpoint {CriteriaStats.Short(current)}");
        return report;
    }

    private static ScoresMetadata Metadata(RoundInput input, CriteriaStats? stats, RoundSpec spec, JsonObject? calibration)
    {
        var m = ScoresMetadata.From(stats, Path.GetFullPath(input.SourceDir), spec.Calibration.Seed);
        m.CheckpointFingerprint = input.Model.Fingerprint;
        m.Dtype = Models.DtypeNames.ToConfigName(input.Model.Dtype);
        m.CalibrationData = Clone(calibration);
        return m;
    }

    private static JsonObject? Clone(JsonObject? o) => o?.DeepClone().AsObject();
}
