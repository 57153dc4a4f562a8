using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using MoePrune.IO;
using MoePrune.Jobs;
using MoePrune.Reports;
using MoePrune.Studies;
using TorchSharp;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune study one-shot [MODEL] --ratios 0.25,0.5 --calib-seeds 0,1,2 --random-seeds 0,1,2,3,4
/// [--eval-sequences N] --out results.json [--markdown FILE]</c>: every criterion in both directions,
/// random and NAEE, dropped uniformly at each ratio and evaluated by validation perplexity (see <see cref="OneShotStudy"/>).
/// </summary>
public static class StudyCommand
{
    public static Command Create() => new("study", "Pruning and merging studies") { OneShot(), StudyMergeCommand.Create(), LotteryStudyCommand.Create() };

    private static Command OneShot()
    {
        var dir = ModelOptions.ModelDir();
        var ratios = new Option<string>("--ratios") { Description = "Comma-separated fractions of experts dropped per layer", DefaultValueFactory = _ => "0.25,0.5" };
        var calibSeeds = new Option<string>("--calib-seeds") { Description = "Calibration seeds (one scoring pass each)", DefaultValueFactory = _ => "0,1,2" };
        var randomSeeds = new Option<string>("--random-seeds") { Description = "Seeds of the random baseline", DefaultValueFactory = _ => "0,1,2,3,4" };
        var evalSeqs = new Option<int>("--eval-sequences") { Description = "First N validation sequences of 256 tokens per Brown genre", DefaultValueFactory = _ => 2 };
        var evalTokens = new Option<string?>("--eval-token-file") { Description = "Evaluate on this token-id file instead of the Brown validation subset" };
        var dense = new Option<string?>("--dense-model") { Description = "Dense baseline model evaluated on the same subset" };
        var noNaee = new Option<bool>("--no-naee") { Description = "Leave out NAEE" };
        var outFile = OutputOptions.Out("results.json to write");
        var force = OutputOptions.Force();
        var markdown = new Option<string?>("--markdown") { Description = "Markdown report to write (a file of its own; tools/results-section.sh one-shot FILE puts it into docs/RESULTS.md)" };
        var calib = CalibrationOptions.Create();
        var cmd = new Command("one-shot", "One-shot dropping: all criteria x directions x ratios, validation perplexity")
            { dir, ratios, calibSeeds, randomSeeds, evalSeqs, evalTokens, dense, noNaee, outFile, force, markdown };
        calib.AddTo(cmd, withSeed: false);
        cmd.SetAction(pr =>
        {
            string loadBefore = LoadAverage();
            var request = new OneShotStudyRequest
            {
                ModelDir = pr.Model(dir), DenseModelDir = pr.GetValue(dense),
                Ratios = ParseList(pr.GetValue(ratios)!, "--ratios", s => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)),
                CalibrationSeeds = ParseList(pr.GetValue(calibSeeds)!, "--calib-seeds", s => int.Parse(s, CultureInfo.InvariantCulture)),
                RandomSeeds = ParseList(pr.GetValue(randomSeeds)!, "--random-seeds", s => int.Parse(s, CultureInfo.InvariantCulture)),
                EvalSequencesPerGenre = pr.GetValue(evalSeqs), EvalTokensFile = pr.GetValue(evalTokens),
                Naee = !pr.GetValue(noNaee), InputSampleRows = pr.GetValue(calib.InputSampleRows),
                Calibration = pr.GetValue(calib.Spec)!, CalibrationSequences = pr.GetValue(calib.Sequences),
                CalibrationLength = pr.GetValue(calib.Length), BatchSize = pr.GetValue(calib.BatchSize),
                Names = CliOptionNames.Map,
            };
            request.Check();
            OutputOptions.Claim(pr.GetValue(outFile)!, OutputKind.File, pr.GetValue(force));
            if (pr.GetValue(markdown) is { } mdFile) OutputOptions.Claim(mdFile, OutputKind.File, pr.GetValue(force));
            var result = OneShotStudy.Run(request, line => Console.Error.WriteLine(line));
            var json = OneShotJson.Render(result);
            JsonFile.WriteAtomic(pr.GetValue(outFile)!, json);
            string command = "./moeprune " + string.Join(" ", pr.Tokens.Select(t => t.Value));
            var run = new StudyRunInfo(command,
                $"{Environment.ProcessorCount} CPU cores, {torch.get_num_threads()} torch thread(s), {RuntimeInformation.OSDescription}",
                loadBefore, LoadAverage());
            if (pr.GetValue(markdown) is { } md) OneShotMarkdown.Write(md, result, run);
            if (pr.GetValue(GlobalOptions.Json)) CliRunner.PrintJson(json);
            else
                foreach (var row in result.Sorted())
                    Console.WriteLine($"{row.Name,-16} " + string.Join("  ", request.Ratios.Select(q => $"{q:0.##}: {row.Mean(q),9:F2} ± {row.Sd(q),7:F2}")));
            return 0;
        });
        return cmd;
    }

    private static List<T> ParseList<T>(string text, string option, Func<string, T> parse)
    {
        var result = new List<T>();
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try { result.Add(parse(item)); }
            catch (FormatException) { throw new MoePruneException($"{option}: '{item}' is not a number"); }
            catch (OverflowException) { throw new MoePruneException($"{option}: '{item}' is out of range"); }
        }
        return result;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg")
        ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3))
        : "unknown";
}
