using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune score [MODEL_DIR] --criteria all|LIST --out scores.json</c>: one calibration pass, every
/// requested criterion's per-layer, per-expert values, and a ranked table per layer.
/// </summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var dir = OptionalModelDir();
        var criteria = new Option<string>("--criteria") { Description = "all, or a comma-separated list (min-ean,max-rwn,reap,naee,…)", DefaultValueFactory = _ => "all" };
        var output = new Option<string>("--out") { Description = "scores.json to write", Required = true };
        var saveStats = new Option<string?>("--save-stats") { Description = "Also save the pass's statistics (safetensors) for --merge-stats" };
        var mergeStats = new Option<string[]>("--merge-stats")
        {
            Description = "Score the merge of saved statistics files instead of running a calibration pass",
            AllowMultipleArgumentsPerToken = true,
        };
        var naeeKeep = new Option<int?>("--naee-keep") { Description = "Experts NAEE keeps per layer (default: half, at least top-k)" };
        var calib = CalibrationOptions.Create();
        var naeeTokens = CalibrationOptions.NaeeTokens();
        var dtype = ModelOptions.Dtype();
        var cmd = new Command("score", "Score every expert of every MoE layer with one calibration pass")
        {
            dir, criteria, output, saveStats, mergeStats, naeeTokens, naeeKeep, dtype,
        };
        calib.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            bool json = pr.GetValue(GlobalOptions.Json);
            var request = new ScoreRequest
            {
                ModelDir = PruneJobDefaults.ResolveModelDir(pr.GetValue(dir)),
                OutFile = pr.GetValue(output)!,
                Criteria = ScoringJob.ParseCriteria(pr.GetValue(criteria)!),
                Calibration = pr.GetValue(calib.Spec)!,
                CalibrationSequences = pr.GetValue(calib.Sequences),
                CalibrationLength = pr.GetValue(calib.Length),
                Seed = pr.GetValue(calib.Seed),
                BatchSize = pr.GetValue(calib.BatchSize),
                SaveStats = pr.GetValue(saveStats),
                MergeStats = pr.GetValue(mergeStats) ?? [],
                NaeeTokens = pr.GetValue(naeeTokens),
                NaeeKeep = pr.GetValue(naeeKeep),
                Dtype = DtypeNames.ParseOption(pr.GetValue(dtype)),
            };
            var result = ScoreCommandOutput.WithProgress(json, progress => ScoringJobRunner.Run(request, progress));
            var m = result.Report.Metadata;
            double rate = result.PassSeconds > 0 ? result.CalibrationTokens / result.PassSeconds : 0;
            if (json)
            {
                CliRunner.PrintJson(new JsonObject
                {
                    ["out"] = request.OutFile,
                    ["criteria"] = new JsonArray(result.Report.Criteria.Keys.Select(k => (JsonNode)JsonValue.Create(k)).ToArray()),
                    ["tokens"] = result.CalibrationTokens,
                    ["seconds"] = Math.Round(result.PassSeconds, 3),
                    ["tokens_per_second"] = Math.Round(rate, 1),
                    ["checkpoint_sha256"] = m.CheckpointSha256,
                    ["calibration"] = m.CalibrationData?.DeepClone(),
                });
                return 0;
            }
            ScoreCommandOutput.PrintRankings(result.Report);
            Console.WriteLine($"wrote {request.OutFile}: {result.Report.Criteria.Count} criteria, {result.CalibrationTokens} calibration tokens"
                + (result.PassSeconds > 0 ? $" ({rate:F0} tokens/s)" : ""));
            return 0;
        });
        return cmd;
    }

    /// <summary>The model directory argument; optional (the default model is used when it is installed).</summary>
    public static Argument<string?> OptionalModelDir() => new("model-dir")
    {
        Description = $"Hugging Face model directory (default: {PruneJobDefaults.DefaultModelDir})",
        Arity = ArgumentArity.ZeroOrOne,
    };
}
