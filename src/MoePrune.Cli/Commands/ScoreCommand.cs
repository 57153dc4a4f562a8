using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Jobs;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune score [MODEL] --criteria all|LIST --out scores.json</c>: one calibration pass, every requested
/// criterion's per-layer, per-expert values (and NAEE's subsets when asked), and a table per layer.
/// </summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var criteria = new Option<string>("--criteria")
        {
            Description = $"Comma-separated criteria, or all (every criterion and baseline except naee; all,naee adds it): {CriterionNames.Help}",
            DefaultValueFactory = _ => "all",
        };
        var output = OutputOptions.Out("scores.json to write");
        var force = OutputOptions.Force();
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
            dir, criteria, output, force, saveStats, mergeStats, naeeKeep, dtype,
        };
        calib.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            bool json = pr.GetValue(GlobalOptions.Json);
            var names = CliOptionNames.Map;
            var request = new ScoreRequest
            {
                ModelDir = pr.Model(dir),
                OutFile = pr.GetValue(output)!,
                Force = pr.GetValue(force),
                Criteria = CriterionSpec.ParseCriteria(pr.GetValue(criteria)!, names[OptionNames.Criteria]),
                Calibration = calib.Bind(pr),
                SaveStats = pr.GetValue(saveStats),
                MergeStats = pr.GetValue(mergeStats) ?? [],
                SubsetKeep = pr.GetValue(naeeKeep),
                Dtype = pr.DtypeValue(dtype),
                Names = names,
            };
            var clock = Stopwatch.StartNew();
            var result = ScoreJob.Run(request, StderrProgress.Calibration);
            double seconds = clock.Elapsed.TotalSeconds;
            var m = result.Report.Metadata;
            double rate = result.PassSeconds > 0 ? result.CalibrationTokens / result.PassSeconds : 0;
            var written = result.Report.Names;
            if (json)
            {
                CliRunner.PrintJson(new JsonObject
                {
                    ["out"] = request.OutFile,
                    ["criteria"] = new JsonArray(written.Select(k => (JsonNode)JsonValue.Create(k)).ToArray()),
                    ["tokens"] = result.CalibrationTokens,
                    ["seconds"] = Math.Round(seconds, 3),
                    ["calibration_seconds"] = Math.Round(result.PassSeconds, 3),
                    ["tokens_per_second"] = Math.Round(rate, 1),
                    ["checkpoint_fingerprint"] = m.CheckpointFingerprint,
                    ["calibration"] = m.CalibrationData?.DeepClone(),
                });
                return 0;
            }
            ScoreTable.Print(result.Report);
            Console.WriteLine($"wrote {request.OutFile}: {written.Count} {(written.Count == 1 ? "criterion" : "criteria")} ({string.Join(", ", written)}), {result.CalibrationTokens} calibration tokens"
                + (result.PassSeconds > 0 ? $" ({rate:F0} tokens/s)" : "") + $", {seconds:F1} s in all");
            return 0;
        });
        return cmd;
    }
}
