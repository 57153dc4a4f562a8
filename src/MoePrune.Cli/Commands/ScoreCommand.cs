using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Jobs;
using MoePrune.Models;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune score [MODEL_DIR] --criteria all|LIST --out scores.json</c>: one calibration pass, every
/// requested criterion's per-layer, per-expert values, and a ranked table per layer.
/// </summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.OptionalModelDir();
        var criteria = new Option<string>("--criteria") { Description = "all, or a comma-separated list (min-ean,max-rwn,reap,naee,…)", DefaultValueFactory = _ => "all" };
        var output = new Option<string>("--out") { Description = "scores.json to write", Required = true };
        var saveStats = new Option<string?>("--save-stats") { Description = "Also save the pass's statistics (safetensors) for --merge-stats" };
        var mergeStats = new Option<string[]>("--merge-stats")
        {
            Description = "Score the merge of saved statistics files (of this checkpoint) instead of running a calibration pass",
            AllowMultipleArgumentsPerToken = true,
        };
        var naeeKeep = new Option<int?>("--naee-keep") { Description = "Experts NAEE keeps per layer (default: half, at least top-k)" };
        var calib = CalibrationOptions.Create();
        var dtype = ModelOptions.Dtype();
        var cmd = new Command("score", "Score every expert of every MoE layer with one calibration pass")
        {
            dir, criteria, output, saveStats, mergeStats, naeeKeep, dtype,
        };
        calib.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            bool json = pr.GetValue(GlobalOptions.Json);
            var names = CliOptionNames.Map;
            var request = new ScoreRequest
            {
                ModelDir = DefaultModel.Resolve(pr.GetValue(dir)),
                OutFile = pr.GetValue(output)!,
                Criteria = CriterionSpec.ParseCriteria(pr.GetValue(criteria)!, names[OptionNames.Criteria]),
                Calibration = calib.Bind(pr),
                SaveStats = pr.GetValue(saveStats),
                MergeStats = pr.GetValue(mergeStats) ?? [],
                SubsetKeep = pr.GetValue(naeeKeep),
                Dtype = DtypeNames.ParseOption(pr.GetValue(dtype)),
                Names = names,
            };
            var result = CalibrationProgress.Run(json, progress => ScoreJob.Run(request, progress));
            var m = result.Report.Metadata;
            double rate = result.PassSeconds > 0 ? result.CalibrationTokens / result.PassSeconds : 0;
            if (json)
            {
                CliRunner.PrintJson(new JsonObject
                {
                    ["out"] = request.OutFile,
                    ["criteria"] = new JsonArray(result.Report.Names.Select(k => (JsonNode)JsonValue.Create(k)).ToArray()),
                    ["tokens"] = result.CalibrationTokens,
                    ["seconds"] = Math.Round(result.PassSeconds, 3),
                    ["tokens_per_second"] = Math.Round(rate, 1),
                    ["checkpoint_fingerprint"] = m.CheckpointFingerprint,
                    ["calibration"] = m.CalibrationData?.DeepClone(),
                });
                return 0;
            }
            ScoreCommandOutput.PrintRankings(result.Report);
            Console.WriteLine($"wrote {request.OutFile}: {result.Report.Names.Count} criteria, {result.CalibrationTokens} calibration tokens"
                + (result.PassSeconds > 0 ? $" ({rate:F0} tokens/s)" : ""));
            return 0;
        });
        return cmd;
    }
}
