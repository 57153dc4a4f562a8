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
        var shard = new Option<string?>("--shard")
        {
            Description = "K/N: only the K-th of N slices (whole batches) of the calibration set, with --save-stats; merge all N with --merge-stats",
        };
        var calib = CalibrationOptions.Create();
        var dtype = ModelOptions.Dtype();
        var layerwise = LayerwiseOptions.Create();
        var cmd = new Command("score", "Score every expert of every MoE layer with one calibration pass")
        {
            dir, criteria, output, saveStats, mergeStats, naeeKeep, dtype, shard,
        };
        calib.AddTo(cmd);
        layerwise.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            bool json = pr.GetValue(GlobalOptions.Json);
            var names = CliOptionNames.Map;
            var request = new ScoreRequest
            {
                ModelDir = DefaultModel.Resolve(pr.GetValue(dir)),
                OutFile = pr.GetValue(output)!,
                Criteria = CriterionSpec.ParseCriteria(pr.GetValue(criteria)!, names[OptionNames.Criteria]),
                Calibration = calib.Bind(pr) with
                {
                    Shard = pr.GetValue(shard) is { } k ? Calibration.CalibrationShard.Parse(k, names[OptionNames.Shard]) : null,
                },
                SaveStats = pr.GetValue(saveStats),
                MergeStats = pr.GetValue(mergeStats) ?? [],
                SubsetKeep = pr.GetValue(naeeKeep),
                Dtype = DtypeNames.ParseOption(pr.GetValue(dtype)),
                Execution = layerwise.Bind(pr),
                Names = names,
            };
            var result = LayerwiseProgressView.Run(json, pr.GetValue(GlobalOptions.Verbose),
                (progress, layers) => ScoreJob.Run(request, progress, layers));
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
                    ["layerwise"] = result.Layerwise is { } lw ? LayerwiseOptions.ToJson(lw) : null,
                });
                return 0;
            }
            ScoreCommandOutput.PrintRankings(result.Report);
            if (result.Layerwise is { } summary) Console.WriteLine(LayerwiseOptions.Describe(summary));
            Console.WriteLine($"wrote {request.OutFile}: {result.Report.Names.Count} criteria, {result.CalibrationTokens} calibration tokens"
                + (result.PassSeconds > 0 ? $" ({rate:F0} tokens/s)" : ""));
            return 0;
        });
        return cmd;
    }
}
