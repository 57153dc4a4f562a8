using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.IO;
using MoePrune.Jobs;
using MoePrune.Models;

namespace MoePrune.Studies;

/// <summary>
/// Merging against dropping on one model (issue 15, item 5): per calibration seed ONE pass collects what every
/// variant reads (routing counts, the input sample, router-logit Gram matrices, activation sums); each
/// <see cref="MergeStudyVariant"/> is then one round on the unpruned model with those statistics, and its model is
/// measured by <see cref="ModelQuality"/>. Data-free variants are measured once. Resumable: every measurement is
/// appended to <c>measurements.jsonl</c> in the work folder as soon as it exists, and a rerun with the same settings
/// skips the measurements present (learned merges run after all the others). <c>results.json</c> (rows: mean and sd
/// over seeds) is rewritten at the end of every run.
/// </summary>
public static class MergeStudy
{
    public const string SettingsFile = "settings.json", MeasurementsFile = "measurements.jsonl", ResultsFile = "results.json";
    public const string ParentName = "parent";

    public static JsonObject Run(MergeStudyRequest request, Action<string>? log = null)
    {
        request.Check();
        var variants = MergeStudyVariant.All(request);
        var (done, settings) = Open(request);
        string raw = Path.Combine(request.WorkDir, MeasurementsFile);
        var evaluation = StudyEvaluationSet.For(request.ModelDir, request.EvalSequencesPerGenre, request.EvalTokensFile);
        using var model = ModelLoader.Load(request.ModelDir);
        model.eval();
        var quality = new ModelQuality(model, request.ModelDir, evaluation.Sequences, request.Tasks, request.TaskLimit, request.BatchSize);
        string parentKey = $"{ParentName}|{model.MoeLayers[0].NumExperts}|-";
        if (request.ReportOnly && !done.ContainsKey(parentKey))
            throw new MoePruneException($"{raw}: no measurement of the parent model yet, so there is nothing to report");
        if (!done.ContainsKey(parentKey))
            Append(raw, done, new JsonObject { ["key"] = parentKey, ["variant"] = ParentName, ["kind"] = ParentName, ["groups"] = model.MoeLayers[0].NumExperts, ["seed"] = null, ["metrics"] = quality.Measure(model) });
        log?.Invoke($"parent: perplexity {(double)done[parentKey]["metrics"]!["perplexity"]!:F2} on {evaluation.PredictedTokens} tokens");

        var lineage = ExpertLineage.Identity(model.MoeLayers);
        var kinds = MergeStudyVariant.Statistics(variants);
        var phases = request.ReportOnly ? [] : new[] { variants.Where(v => !v.Learned).ToList(), variants.Where(v => v.Learned).ToList() };
        foreach (var phase in phases)
            foreach (int seed in request.CalibrationSeeds)
            {
                var todo = phase.Where(v => !done.ContainsKey(v.Key(seed))).ToList();
                if (todo.Count == 0) continue;
                var calibration = new CalibrationSettings
                {
                    Spec = request.Calibration, Sequences = request.CalibrationSequences, Length = request.CalibrationLength,
                    Seed = seed, BatchSize = request.BatchSize, InputSampleRows = request.SimilarityTokens,
                };
                CriteriaStats? stats = null;
                double passSeconds = 0;
                if (todo.Any(v => v.ReadsData))
                {
                    var clock = Stopwatch.StartNew();
                    var data = CalibrationPacker.ForModel(request.ModelDir, calibration.Spec, calibration.Sequences, calibration.Length, seed, model.Config.VocabSize);
                    stats = CalibrationPass.Collect(model, data, kinds, request.SimilarityTokens, request.BatchSize);
                    passSeconds = clock.Elapsed.TotalSeconds;
                    log?.Invoke($"seed {seed}: calibration pass over {data.Tokens} tokens in {passSeconds:F1} s");
                }
                foreach (var variant in todo)
                {
                    string key = variant.Key(seed);
                    if (done.ContainsKey(key)) continue;                                           // a data-free variant measured under this seed
                    var record = Measure(model, lineage, request, variant, seed, calibration, stats, quality);
                    record["pass_seconds"] = variant.ReadsData ? passSeconds : null;
                    Append(raw, done, record);
                    var m = record["metrics"]!;
                    log?.Invoke($"{key}: perplexity {(double)m["perplexity"]!:F2}, KL {(double)m["kl_mean"]!:F4} ({(double)record["round_seconds"]!:F1} s + {(double)m["seconds"]!:F1} s)");
                }
            }
        var results = MergeStudyResults.Build(request, done.Values.ToList(), evaluation, quality.Tasks.ToList(), settings);
        JsonFile.WriteAtomic(Path.Combine(request.WorkDir, ResultsFile), results);
        return results;
    }

    /// <summary>One round with an evaluate hook; the record holds the key, the variant, the metrics and what the round chose.</summary>
    private static JsonObject Measure(MoeForCausalLM model, ExpertLineage lineage, MergeStudyRequest request, MergeStudyVariant variant, int seed,
        CalibrationSettings calibration, CriteriaStats? stats, ModelQuality quality)
    {
        JsonObject? metrics = null;
        var hooks = new RoundHooks { Evaluate = round => { metrics = quality.Measure(round.Model); return null; } };
        var clock = Stopwatch.StartNew();
        using var round = variant.Run(new RoundInput(1, model, lineage, request.ModelDir) { Statistics = stats }, calibration, hooks);
        double seconds = clock.Elapsed.TotalSeconds - (double)metrics!["seconds"]!;
        var groups = new JsonObject();
        foreach (int layer in round.LineageAfter.Layers)
            groups[layer.ToString()] = new JsonArray(Enumerable.Range(0, round.LineageAfter.Slots(layer))
                .Select(s => (JsonNode)new JsonArray(round.LineageAfter.Originals(layer, s).Select(e => (JsonNode)e).ToArray())).ToArray());
        var record = new JsonObject
        {
            ["key"] = variant.Key(seed),
            ["variant"] = variant.Name,
            ["kind"] = variant.Kind,
            ["groups"] = variant.Groups,
            ["seed"] = variant.ReadsData ? seed : null,
            ["metrics"] = metrics,
            ["round_seconds"] = seconds,
            ["layers"] = groups,
        };
        if (round.Merge is { } merge)
        {
            record["merge"] = merge.Spec.ToJson();
            record["partition"] = new JsonObject(merge.Layers.Select(kv => KeyValuePair.Create(kv.Key.ToString(), (JsonNode?)(kv.Value.Partition is { } p
                ? new JsonObject { ["method"] = MergeChoices.Name(p.Method), ["objective"] = MergeChoices.Name(merge.Spec.ObjectiveKind), ["value"] = p.Objective }
                : null))));
            if (variant.Learned)
                record["learned_held_out_error"] = new JsonObject(merge.Layers.Select(kv => KeyValuePair.Create(kv.Key.ToString(), (JsonNode?)(kv.Value.Merged.Learned is { } l
                    ? new JsonObject { ["uniform"] = l.UniformHeldOutError, ["learned"] = l.HeldOutError, ["uniform_train"] = l.UniformTrainError, ["learned_train"] = l.TrainError }
                    : null))));
        }
        return record;
    }

    /// <summary>
    /// Creates the work folder or checks a rerun's settings; the measurements already there, by key, and the settings they
    /// were measured with. A report measures nothing, so it reads the stored settings instead of checking them (the
    /// folder may have been copied from another checkout, with another model path).
    /// </summary>
    private static (Dictionary<string, JsonObject> Done, JsonObject Settings) Open(MergeStudyRequest request)
    {
        string settingsPath = Path.Combine(request.WorkDir, SettingsFile);
        if (request.ReportOnly && !File.Exists(settingsPath))
            throw new MoePruneException($"{request.WorkDir}: no merge study there (no {SettingsFile}), so there is nothing to report");
        Directory.CreateDirectory(request.WorkDir);
        var settings = request.ToJson();
        if (request.ReportOnly) settings = JsonFile.ReadObject(settingsPath);
        else if (File.Exists(settingsPath))
        {
            var stored = JsonFile.ReadObject(settingsPath);
            var differ = settings.Select(kv => kv.Key).Union(stored.Select(kv => kv.Key)).Where(k => !JsonNode.DeepEquals(settings[k], stored[k])).ToList();
            if (differ.Count > 0)
                throw new MoePruneException($"{settingsPath}: the study in {request.WorkDir} was run with other settings ({string.Join(", ", differ)} differ); use another folder");
        }
        else JsonFile.WriteAtomic(settingsPath, settings);
        var done = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        string raw = Path.Combine(request.WorkDir, MeasurementsFile);
        if (File.Exists(raw) && new FileInfo(raw).Length > 0 && !File.ReadAllText(raw).EndsWith('\n'))
            File.AppendAllText(raw, "\n");                                                       // a line cut short by a kill stays alone
        if (File.Exists(raw))
            foreach (var line in File.ReadLines(raw).Where(l => l.Trim().Length > 0))
            {
                JsonObject record;
                try { record = JsonNode.Parse(line)!.AsObject(); }
                catch (System.Text.Json.JsonException) { continue; }                              // a line cut short by a kill: measured again
                done[(string)record["key"]!] = record;
            }
        return (done, settings);
    }

    private static void Append(string path, Dictionary<string, JsonObject> done, JsonObject record)
    {
        using (var writer = File.AppendText(path))
        {
            writer.Write(record.ToJsonString());
            writer.Write('\n');
        }
        done[(string)record["key"]!] = record;
    }
}
