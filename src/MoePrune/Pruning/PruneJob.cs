using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.IO;
using MoePrune.Models;

namespace MoePrune.Pruning;

/// <summary>The written checkpoint, its <c>pruning.json</c>, and the per-layer choice.</summary>
public sealed record PruneResult(string OutDir, JsonObject Record, SortedDictionary<int, LayerSelection> Selections);

/// <summary>
/// <c>moeprune prune</c> as a library call: fingerprint and load the checkpoint, decide which experts each
/// sparse layer keeps (criterion scores + selection, NAEE's subset search, or a keep-map), and export a
/// standard Hugging Face checkpoint with <c>pruning.json</c> in the same atomically renamed directory.
/// Every user error is raised before anything is written.
/// </summary>
public static class PruneJob
{
    public const string RecordFile = "pruning.json";

    public static PruneResult Run(PruneRequest request, Action<ScoringProgress>? progress = null)
    {
        var spec = CheckRequest(request);
        using var model = ModelLoader.Load(request.ModelDir, request.Dtype);
        string hash = model.Fingerprint!;
        var choice = request.KeepMapFile is { } keepMap
            ? FromKeepMap(model, keepMap)
            : spec!.Kind == CriterionKind.Naee
                ? FromNaee(model, request, progress)
                : FromScores(model, spec, request, hash, progress);
        var plan = ExpertSurgery.KeepPlan(choice.Selections.Values);
        bool nonUniform = request.Selection.Global;
        ExpertSurgery.Validate(model.Config, plan, nonUniform);
        var record = PruneJobRecord.Build(request, spec, choice, hash, model);
        ExpertSurgery.Export(model, plan, request.OutDir, nonUniform, copyAuxFrom: request.ModelDir,
                             extraFiles: new Dictionary<string, JsonNode> { [RecordFile] = record });
        return new PruneResult(request.OutDir, record, choice.Selections);
    }

    /// <summary>Option checks that need no model; returns the parsed criterion (null with a keep-map).</summary>
    private static CriterionSpec? CheckRequest(PruneRequest r)
    {
        if ((r.Criterion is null) == (r.KeepMapFile is null))
            throw new MoePruneException("prune: give exactly one of --criterion and --keep-map");
        if (Directory.Exists(r.OutDir) && Directory.EnumerateFileSystemEntries(r.OutDir).Any())
            throw new MoePruneException($"{r.OutDir}: output directory exists and is not empty");
        if (File.Exists(r.OutDir))
            throw new MoePruneException($"{r.OutDir}: output path is an existing file");
        if (r.KeepMapFile is not null)
        {
            var s = r.Selection;
            if (s.Drop is not null || s.Keep is not null || s.Ratio is not null || s.Protect.Count > 0 || r.ScoresFile is not null)
                throw new MoePruneException("--keep-map: lists the kept experts itself; do not combine it with --drop, --keep, --ratio, --protect or --scores");
            return null;
        }
        var spec = CriterionSpec.Parse(r.Criterion!);
        r.Selection.DropsFor(int.MaxValue / 2);                                          // exactly one of drop/keep/ratio, ranges
        if (spec.Kind == CriterionKind.Naee && (r.ScoresFile is not null || r.Selection.Global))
            throw new MoePruneException("--criterion naee: searches subsets on the spot; it takes neither --scores nor --global");
        return spec;
    }

    private static PruneChoice FromKeepMap(MoeForCausalLM model, string path)
    {
        var map = PruneJobKeepMap.Load(path);
        ExpertSurgery.Validate(model.Config, ExpertPlan.Keep(map), allowNonUniform: true);
        var selections = new SortedDictionary<int, LayerSelection>();
        foreach (var view in model.MoeLayers)
        {
            var kept = map.TryGetValue(view.LayerIndex, out var k) ? k : Enumerable.Range(0, view.NumExperts).ToList();
            selections[view.LayerIndex] = LayerSelection.FromRemoved(view.LayerIndex, view.NumExperts,
                Enumerable.Range(0, view.NumExperts).Except(kept));
        }
        return new PruneChoice("keep-map", selections, null, null);
    }

    private static PruneChoice FromNaee(MoeForCausalLM model, PruneRequest r, Action<ScoringProgress>? progress)
    {
        var naee = new[] { CriterionSpec.Parse("naee") };
        var data = Pack(model, r);
        var stats = ScoringJob.Collect(model, data, naee, r.NaeeTokens, r.BatchSize, progress);
        var first = model.MoeLayers[0];
        int keep = first.NumExperts - r.Selection.DropsFor(first.NumExperts);
        var protect = r.Selection.Protect.GroupBy(p => p.Layer)
            .ToDictionary(g => g.Key, g => (IReadOnlyCollection<int>)g.Select(p => p.Expert).ToList());
        var results = NaeeSearch.Search(model.MoeLayers, stats, keep, NaeeMode.Exhaustive, protect: protect);
        var selections = ExpertSelection.FromNaee(results, model.MoeLayers.ToDictionary(v => v.LayerIndex, v => v.NumExperts));
        return new PruneChoice("naee", selections, null, data.ToJson());
    }

    private static PruneChoice FromScores(MoeForCausalLM model, CriterionSpec spec, PruneRequest r, string hash,
        Action<ScoringProgress>? progress)
    {
        PreflightSelection(model, spec, r.Selection);
        CriterionScores scores;
        JsonObject? calibration;
        if (r.ScoresFile is { } file)
        {
            var report = ScoresReport.Load(file);
            if (report.Metadata.CheckpointSha256 is { } scored && scored != hash)
                throw new MoePruneException($"{file}: scores were computed on another checkpoint (sha256 {scored[..12]}…, this one {hash[..12]}…)");
            scores = report.ToScores(spec.Name);
            calibration = report.Metadata.CalibrationData?.DeepClone().AsObject();
        }
        else
        {
            CriteriaStats? stats = null;
            calibration = null;
            if (ScoringJob.NeedsCalibration([spec]))
            {
                var data = Pack(model, r);
                stats = ScoringJob.Collect(model, data, [spec], r.NaeeTokens, r.BatchSize, progress);
                calibration = data.ToJson();
            }
            scores = CriteriaScorer.Score(spec, stats, model.MoeLayers, r.Seed);
        }
        var selections = ExpertSelection.Select(scores, r.Selection);
        return new PruneChoice(r.Selection.Global ? "global" : "uniform", selections, scores, calibration);
    }

    /// <summary>Runs the selection on all-zero scores so that a bad --drop/--keep/--ratio/--protect fails before the calibration pass.</summary>
    private static void PreflightSelection(MoeForCausalLM model, CriterionSpec spec, SelectionRequest selection)
    {
        var zeros = new CriterionScores { Spec = spec, Drops = DropDirection.Min };
        foreach (var view in model.MoeLayers)
            zeros.Layers[view.LayerIndex] = new LayerScores(view.LayerIndex, view.TopK, new double[view.NumExperts]);
        ExpertSelection.Select(zeros, selection);
    }

    private static CalibrationSet Pack(MoeForCausalLM model, PruneRequest r) =>
        CalibrationPacker.ForModel(r.ModelDir, r.Calibration, r.CalibrationSequences, r.CalibrationLength, r.Seed, model.Config.VocabSize);
}

/// <summary>How the kept experts were chosen: method name, selection, the scores used (if any) and calibration metadata.</summary>
public sealed record PruneChoice(string Method, SortedDictionary<int, LayerSelection> Selections, CriterionScores? Scores, JsonObject? Calibration);
