using System.CommandLine;
using System.Globalization;
using MoePrune.IO;
using MoePrune.Jobs;
using MoePrune.Studies.Lottery;
using TorchSharp;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune study lottery [MODEL] --work DIR --out results.json [--parts abcdef] [--calib-seeds 0,1,2]</c>:
/// one-shot, iterative and lottery pruning by five criteria at 1/8 … 6/8 sparsity with task accuracy, the
/// instruction-following test, recovery at equal tokens, the fine-tune budget and 2:4 pruning (<see cref="LotteryStudy"/>).
/// Every finished unit is kept in DIR; rerunning the same command (same global <c>--threads</c>, recorded) continues;
/// the JSON (and <c>--markdown</c>) is rewritten after every unit: existing ones are refused without <c>--force</c> unless
/// the work folder holds the study being continued.
/// </summary>
public static class LotteryStudyCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var work = new Option<string>("--work") { Description = "Study folder (finished units, run folders); rerun to continue", Required = true };
        var outFile = new Option<string>("--out") { Description = "Study JSON, rewritten after every finished unit", Required = true };
        var parts = new Option<string>("--parts") { Description = "Parts to run: a (perplexity), b (tasks), c (instruction following), d (budget), e (recovery), f (2:4, speed)", DefaultValueFactory = _ => "abcdef" };
        var seeds = new Option<string>("--calib-seeds") { Description = "Calibration seeds (one run of every strategy per seed; also the random criterion's and the fine-tune order's); a continued study may add seeds after the first", DefaultValueFactory = _ => "0,1,2" };
        var criteria = new Option<string>("--criteria") { Description = "Criteria compared", DefaultValueFactory = _ => "random,min-ean,min-ege,max-rwn,max-ets" };
        var maxDrop = new Option<int>("--max-drop") { Description = "Experts dropped per layer at the highest sparsity", DefaultValueFactory = _ => 6 };
        var tokens = new Option<long>("--finetune-tokens") { Description = "Fine-tune tokens of the first lottery round (doubling per round)", DefaultValueFactory = _ => 8192 };
        var lr = new Option<double>("--finetune-lr") { Description = "Peak fine-tune learning rate", DefaultValueFactory = _ => 1e-3 };
        var limit = new Option<int>("--eval-limit") { Description = "Only the first N test documents of each task", DefaultValueFactory = _ => 150 };
        var sftTokens = new Option<long>("--sft-tokens") { Description = "Part c: SFT token budget (sequences of 128)", DefaultValueFactory = _ => 200L * 8 * 128 };
        var sftExamples = new Option<int>("--sft-examples") { Description = "Part c: lettered training questions in the SFT file", DefaultValueFactory = _ => 2000 };
        var evalSeqs = new Option<int>("--eval-sequences") { Description = "Perplexity and KL on the first N Brown validation sequences of 256 tokens per genre", DefaultValueFactory = _ => 2 };
        var calibSeqs = new Option<int>("--calib-sequences") { Description = "Calibration sequences of every scoring pass", DefaultValueFactory = _ => 64 };
        var force = OutputOptions.Force();
        var markdown = new Option<string?>("--markdown") { Description = "Also write the study's tables as Markdown here (rewritten after every unit)" };
        var cmd = new Command("lottery", "One-shot vs iterative vs lottery pruning, task accuracy, instruction following, recovery, budget, 2:4 pruning")
            { dir, work, outFile, parts, seeds, criteria, maxDrop, tokens, lr, limit, sftTokens, sftExamples, evalSeqs, calibSeqs, force, markdown };
        cmd.SetAction(pr =>
        {
            var defaults = new LotteryStudyRequest { ModelDir = "", WorkDir = "" };
            var request = defaults with
            {
                ModelDir = pr.Model(dir), WorkDir = pr.GetValue(work)!,
                Parts = pr.GetValue(parts)!.Trim().ToLowerInvariant().ToHashSet(),
                Seeds = pr.GetValue(seeds)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new MoePruneException($"--calib-seeds: '{s}' is not a number")).ToList(),
                MaxDrop = pr.GetValue(maxDrop),
                Criteria = pr.GetValue(criteria)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList(),
                FineTune = defaults.FineTune with { Tokens = pr.GetValue(tokens), Optimizer = defaults.FineTune.Optimizer with { LearningRate = pr.GetValue(lr) } },
                TaskLimit = pr.GetValue(limit), InstructionLimit = pr.GetValue(limit), Threads = torch.get_num_threads(),
                SftTokens = pr.GetValue(sftTokens), SftExamples = pr.GetValue(sftExamples),
                RecoveryDrops = defaults.RecoveryDrops.Where(d => d <= pr.GetValue(maxDrop)).DefaultIfEmpty(pr.GetValue(maxDrop)).Distinct().ToList(),
                EvalSequencesPerGenre = pr.GetValue(evalSeqs), Calibration = defaults.Calibration with { Sequences = pr.GetValue(calibSeqs) },
                Names = CliOptionNames.Map,
            };
            string output = pr.GetValue(outFile)!;
            bool continuing = File.Exists(Path.Combine(request.WorkDir, "study.json"));
            OutputOptions.Claim(output, OutputKind.File, pr.GetValue(force) || continuing);
            if (pr.GetValue(markdown) is { } mdFile) OutputOptions.Claim(mdFile, OutputKind.File, pr.GetValue(force) || continuing);
            void Render(LotteryStudyContext ctx)
            {
                var json = LotteryStudyJson.Render(request, ctx.Units, ctx.Original.MoeLayers[0].NumExperts);
                JsonFile.WriteAtomic(output, json);
                if (pr.GetValue(markdown) is { } md) AtomicFile.WriteText(md, Reports.LotteryMarkdown.Render(json));
            }
            var failed = LotteryStudy.Run(request, line => Console.Error.WriteLine(line), Render);
            Console.WriteLine(failed.Count == 0 ? $"study complete; wrote {output}" : $"{failed.Count} unit(s) did not finish ({string.Join(", ", failed)}); rerun the same command to continue");
            return failed.Count == 0 ? 0 : 1;
        });
        return cmd;
    }
}
