using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using MoePrune.Jobs;
using MoePrune.Pruning;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune prune [MODEL] --criterion min-ean (--drop N | --keep N | --ratio R) --out DIR</c>, or with
/// <c>--scores scores.json</c> to reuse a scoring run, or <c>--keep-map FILE</c>: writes a pruned Hugging
/// Face checkpoint with <c>pruning.json</c> and says what it cost (parameters, bytes, held-out perplexity);
/// with <c>--gguf FILE</c> a GGUF file of the result too (one-shot, one expert count per layer).
/// With <c>--strategy iterative|lottery</c>, <c>--recalibrate</c>, <c>--work</c> or <c>--eval-tasks</c> the rounds run
/// through <see cref="Jobs.Strategies.StrategyJob"/> (<see cref="StrategyOptions"/>), evaluated on the same sample.
/// </summary>
public static class PruneCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var criterion = new Option<string?>("--criterion") { Description = $"Criterion to drop by: {CriterionNames.Help}" };
        var drop = new Option<int?>("--drop") { Description = "Experts to remove per layer (--drop 0 copies the model unchanged)" };
        var keep = new Option<int?>("--keep") { Description = "Experts to keep per layer" };
        var ratio = new Option<double?>("--ratio")
        {
            Description = "Fraction of experts to remove per layer, in (0, 1): ⌊E·ratio⌋ experts (rounded down; a ratio that removes none is refused)",
        };
        var output = OutputOptions.Out("Output model folder");
        var force = OutputOptions.Force();
        var gguf = new Option<string?>("--gguf") { Description = "Also write this GGUF file for llama.cpp (one expert count per layer: not with --global)" };
        var scores = new Option<string?>("--scores") { Description = "Take the criterion's values (or naee's subsets) from this scores.json (same checkpoint)" };
        var keepMap = new Option<string?>("--keep-map") { Description = "JSON file: decoder-layer index -> kept original expert indices" };
        var global = new Option<bool>("--global")
        {
            Description = "Spread the same total over layers by normalised score; layers may keep different counts (a checkpoint stock transformers cannot load)",
        };
        var protect = new Option<string?>("--protect") { Description = "Experts never removed: LAYER:EXPERT,…" };
        var dropMtp = new Option<bool>("--drop-mtp")
        {
            Description = "Remove the MTP layers (num_nextn_predict_layers 0) instead of pruning their experts to the same count by weight norm",
        };
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the perplexity check before/after on a small held-out sample" };
        var evalSequences = new Option<int>("--eval-sequences")
        {
            Description = "Sequences of 256 tokens per Brown genre (validation split) for the perplexity check", DefaultValueFactory = _ => 1,
        };
        var evalTokens = new Option<string?>("--eval-token-file") { Description = "Check perplexity on this token-id file instead of the Brown validation sample" };
        var calib = CalibrationOptions.Create();
        var layerwise = LayerwiseOptions.Create();
        var dtype = ModelOptions.Dtype($"Dtype the model is held, scored and written in: {ModelOptions.DtypeValues} (default: the checkpoint's)");
        var cmd = new Command("prune", "Remove experts, write a standard Hugging Face checkpoint with pruning.json, and say what it cost")
        {
            dir, criterion, drop, keep, ratio, output, force, gguf, scores, keepMap, global, protect, dropMtp, dtype, noEval, evalSequences, evalTokens,
        };
        calib.AddTo(cmd);
        layerwise.AddTo(cmd);
        var strategy = new StrategyOptions();
        strategy.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            bool json = pr.GetValue(GlobalOptions.Json);
            var names = CliOptionNames.Map;
            var request = new PruneRequest
            {
                ModelDir = pr.Model(dir),
                OutDir = pr.GetValue(output)!,
                Force = pr.GetValue(force),
                GgufFile = pr.GetValue(gguf),
                Criterion = pr.GetValue(criterion),
                ScoresFile = pr.GetValue(scores),
                KeepMapFile = pr.GetValue(keepMap),
                Selection = new SelectionRequest
                {
                    Drop = pr.GetValue(drop), Keep = pr.GetValue(keep), Ratio = pr.GetValue(ratio),
                    Global = pr.GetValue(global), Protect = SelectionRequest.ParseProtect(pr.GetValue(protect), names),
                },
                Calibration = calib.Bind(pr),
                DropMtp = pr.GetValue(dropMtp),
                Dtype = pr.DtypeValue(dtype),
                Evaluation = new PruneEvaluation
                {
                    Enabled = !pr.GetValue(noEval), SequencesPerGenre = pr.GetValue(evalSequences), TokenFile = pr.GetValue(evalTokens),
                    BatchSize = pr.GetValue(calib.BatchSize),
                },
                Execution = layerwise.Bind(pr),
                Names = names,
            };
            if (!strategy.IsPlainOneShot(pr))
            {
                if (request.Execution.Force || request.Execution.MemoryBudget is not null)
                    throw new MoePruneException("--layerwise/--memory-budget: only a one-shot prune runs layer by layer; --strategy, --recalibrate, --work and --eval-tasks need the model in memory");
                if (request.GgufFile is not null)
                    throw new MoePruneException("--gguf: only a one-shot prune writes a GGUF file; with --strategy, --recalibrate, --work or --eval-tasks, export the result with export-gguf");
                return PruneStrategyOutput.Run(strategy.Bind(pr, request), json);
            }
            var result = PruneJob.Run(request, StderrProgress.Calibration);
            var record = result.Record;
            if (record["portable"]?.GetValue<bool>() == false)
                Console.Error.WriteLine($"note: {result.OutDir}: {record["portable_note"]} (recorded in pruning.json)");
            if (json)
            {
                CliRunner.PrintJson(new JsonObject
                {
                    ["out"] = result.OutDir,
                    ["gguf"] = result.GgufFile,
                    ["method"] = record["method"]?.DeepClone(),
                    ["criterion"] = record["criterion"]?.DeepClone(),
                    ["portable"] = record["portable"]?.DeepClone(),
                    ["cost"] = record["cost"]?.DeepClone(),
                    ["layers"] = record["layers"]!.DeepClone(),
                    ["mtp"] = record["mtp"]?.DeepClone(),
                    ["layerwise"] = result.Layerwise is { } lw ? LayerwiseOptions.ToJson(lw) : null,
                });
                return 0;
            }
            foreach (var (layer, s) in result.Selections)
                Console.WriteLine($"layer {layer,3}: keep {s.Kept.Length}/{s.NumExperts} [{string.Join(",", s.Kept)}]  removed [{string.Join(",", s.Removed)}]");
            if (record["mtp"] is JsonObject mtpRecord) Console.WriteLine(MtpLine(mtpRecord));
            foreach (var line in CostLines(record["cost"]!.AsObject())) Console.WriteLine(line);
            if (result.Layerwise is { } summary) Console.WriteLine(LayerwiseOptions.Describe(summary));
            Console.WriteLine($"wrote {result.OutDir} ({record["method"]}, pruning.json inside)"
                              + (result.GgufFile is null ? "" : $" and {result.GgufFile}"));
            return 0;
        });
        return cmd;
    }

    /// <summary>What happened to the MTP layers, in one line.</summary>
    public static string MtpLine(JsonObject mtp) =>
        mtp["rule"]?.GetValue<string>() == MtpChoice.DroppedRule
            ? "mtp         dropped (num_nextn_predict_layers 0)"
            : "mtp         " + string.Join("; ", mtp["layers"]!.AsObject().Select(kv =>
                  $"layer {kv.Key}: keep {kv.Value!["kept"]!.AsArray().Count}/{kv.Value["experts"]} by weight norm (not calibrated)"));

    /// <summary>"parameters 12,345,678 → 9,876,543 (−20.0%)" lines of the cost record.</summary>
    public static IEnumerable<string> CostLines(JsonObject cost)
    {
        string Change(double before, double after) => before == 0 ? "" : $" ({(after / before - 1).ToString("+0.0%;-0.0%;0.0%", CultureInfo.InvariantCulture)})";
        string Pair(string key, Func<long, string> format)
        {
            long b = (long)cost[key]!["before"]!, a = (long)cost[key]!["after"]!;
            return $"{format(b)} → {format(a)}{Change(b, a)}";
        }
        yield return $"parameters  {Pair("parameters", n => n.ToString("N0", CultureInfo.InvariantCulture))}, active per token {Pair("active_parameters", n => n.ToString("N0", CultureInfo.InvariantCulture))}";
        yield return $"bytes       {Pair("parameter_bytes", n => $"{n / (double)(1 << 20):F1} MiB")} ({cost["dtype"]})";
        if (cost["perplexity"] is JsonObject p)
        {
            double b = (double)p["before"]!, a = (double)p["after"]!;
            yield return $"perplexity  {b:F2} → {a:F2}{Change(b, a)} on {p["data"]} ({p["tokens"]} tokens)";
        }
        else yield return $"perplexity  not measured: {cost["perplexity_skipped"]}";
    }
}
