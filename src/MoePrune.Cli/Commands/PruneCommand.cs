using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Jobs;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune prune [MODEL_DIR] --criterion min-ean (--drop N | --keep N | --ratio R) --out DIR</c>, or with
/// <c>--scores scores.json</c> to reuse a scoring run, or <c>--keep-map FILE</c>: writes a pruned Hugging
/// Face checkpoint with <c>pruning.json</c>. With <c>--strategy iterative|lottery</c>, <c>--recalibrate</c>, <c>--work</c>
/// or <c>--eval-tasks</c> the rounds run through <see cref="Jobs.Strategies.StrategyJob"/> (<see cref="StrategyOptions"/>).
/// </summary>
public static class PruneCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.OptionalModelDir();
        var criterion = new Option<string?>("--criterion") { Description = "Criterion to drop by (min-ean, max-rwn, reap, naee, …)" };
        var drop = new Option<int?>("--drop") { Description = "Experts to remove per layer" };
        var keep = new Option<int?>("--keep") { Description = "Experts to keep per layer" };
        var ratio = new Option<double?>("--ratio") { Description = "Fraction of experts to remove per layer, in [0, 1)" };
        var output = new Option<string>("--out") { Description = "Output checkpoint directory (must not exist or be empty)", Required = true };
        var scores = new Option<string?>("--scores") { Description = "Take the criterion's values (or naee's subsets) from this scores.json (same checkpoint)" };
        var keepMap = new Option<string?>("--keep-map") { Description = "JSON: decoder-layer index -> kept original expert indices" };
        var global = new Option<bool>("--global") { Description = "Spread the same total over layers by normalised score (non-uniform export)" };
        var protect = new Option<string?>("--protect") { Description = "Experts never removed: LAYER:EXPERT,…" };
        var calib = CalibrationOptions.Create();
        var dtype = ModelOptions.Dtype();
        var strategy = new StrategyOptions();
        var cmd = new Command("prune", "Remove experts and write a standard Hugging Face checkpoint with pruning.json")
        {
            dir, criterion, drop, keep, ratio, output, scores, keepMap, global, protect, dtype,
        };
        calib.AddTo(cmd);
        strategy.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            strategy.ApplyThreads(pr);
            bool json = pr.GetValue(GlobalOptions.Json);
            var names = CliOptionNames.Map;
            var request = new PruneRequest
            {
                ModelDir = DefaultModel.Resolve(pr.GetValue(dir)),
                OutDir = pr.GetValue(output)!,
                Criterion = pr.GetValue(criterion),
                ScoresFile = pr.GetValue(scores),
                KeepMapFile = pr.GetValue(keepMap),
                Selection = new SelectionRequest
                {
                    Drop = pr.GetValue(drop), Keep = pr.GetValue(keep), Ratio = pr.GetValue(ratio),
                    Global = pr.GetValue(global), Protect = SelectionRequest.ParseProtect(pr.GetValue(protect), names),
                },
                Calibration = calib.Bind(pr),
                Dtype = DtypeNames.ParseOption(pr.GetValue(dtype)),
                Names = names,
            };
            if (!strategy.IsPlainOneShot(pr)) return PruneStrategyOutput.Run(strategy.Bind(pr, request), json);
            var result = CalibrationProgress.Run(json, progress => PruneJob.Run(request, progress));
            if (json)
            {
                CliRunner.PrintJson(new JsonObject
                {
                    ["out"] = result.OutDir,
                    ["method"] = result.Record["method"]?.DeepClone(),
                    ["criterion"] = result.Record["criterion"]?.DeepClone(),
                    ["layers"] = result.Record["layers"]!.DeepClone(),
                });
                return 0;
            }
            foreach (var (layer, s) in result.Selections)
                Console.WriteLine($"layer {layer,3}: keep {s.Kept.Length}/{s.NumExperts} [{string.Join(",", s.Kept)}]  removed [{string.Join(",", s.Removed)}]");
            Console.WriteLine($"wrote {result.OutDir} ({result.Record["method"]}, pruning.json inside)");
            return 0;
        });
        return cmd;
    }
}
