using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using MoePrune.Jobs;
using MoePrune.Merging;
using MoePrune.Merging.Merge;
using MoePrune.Reports;
using MoePrune.Studies;
using TorchSharp;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune study merge [MODEL] --work DIR [--groups 6,4] [--calib-seeds 0,1,2] [--tasks def2word,hypernym]
/// [--task-limit N] [--eval-sequences N] [--markdown FILE [--force]]</c>: every similarity × merge method, the M-SMoE/HC-SMoE presets
/// and the dropping baselines at each expert count (<see cref="MergeStudy"/>); resumable in the work folder.
/// </summary>
public static class StudyMergeCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var work = new Option<string>("--work") { Description = "Work folder: settings.json, measurements.jsonl (appended; a rerun skips what is there), results.json", Required = true };
        var groups = new Option<string>("--groups") { Description = "Comma-separated experts per layer after merging or dropping", DefaultValueFactory = _ => "6,4" };
        var calibSeeds = new Option<string>("--calib-seeds") { Description = "Calibration seeds (one pass each)", DefaultValueFactory = _ => "0,1,2" };
        var similarities = new Option<string>("--similarities") { Description = "Similarities of the grid", DefaultValueFactory = _ => "cka,weights,surrogate,router,router-logits" };
        var merges = new Option<string>("--merges") { Description = "Merge methods of the grid", DefaultValueFactory = _ => "uniform,frequency,max-frequency,learned" };
        var presets = new Option<string>("--presets") { Description = "Merge presets", DefaultValueFactory = _ => "m-smoe,hc-smoe" };
        var drops = new Option<string>("--drops") { Description = "Dropping baselines (criteria)", DefaultValueFactory = _ => "frequency,min-ean,naee" };
        var tasks = new Option<string>("--tasks") { Description = "Built-in tasks or task files scored on every model (empty: none)", DefaultValueFactory = _ => "def2word,hypernym" };
        var taskLimit = new Option<int>("--task-limit") { Description = "First N documents of each task", DefaultValueFactory = _ => 300 };
        var evalSeqs = new Option<int>("--eval-sequences") { Description = "First N validation sequences of 256 tokens per Brown genre", DefaultValueFactory = _ => 4 };
        var evalTokens = new Option<string?>("--eval-token-file") { Description = "Evaluate on this token-id file instead of the Brown validation subset" };
        var tokens = new Option<int>("--similarity-tokens") { Description = "Input-sample rows per layer (similarity, learned merge, NAEE)", DefaultValueFactory = _ => MergeSpec.DefaultSimilarityTokens };
        var learnedSteps = new Option<int>("--learned-steps") { Description = "Adam steps of the learned merge", DefaultValueFactory = _ => new LayerMergeOptions().LearnedSteps };
        var markdown = new Option<string?>("--markdown") { Description = "Also write the tables as Markdown here (an existing file is replaced only with --force)" };
        var force = OutputOptions.Force();
        var reportOnly = new Option<bool>("--report-only") { Description = "Measure nothing: results.json and --markdown from the measurements already in --work (partial while a run is going)" };
        var calib = CalibrationOptions.Create();
        var cmd = new Command("merge", "Merging against dropping: every similarity x merge method, presets and baselines; perplexity, KL, task accuracy")
            { dir, work, groups, calibSeeds, similarities, merges, presets, drops, tasks, taskLimit, evalSeqs, evalTokens, tokens, learnedSteps, markdown, force, reportOnly };
        calib.AddTo(cmd, withSeed: false, withInputSample: false);
        cmd.SetAction(pr =>
        {
            string loadBefore = LoadAverage();
            if (pr.GetValue(markdown) is { } mdFile) OutputOptions.Claim(mdFile, IO.OutputKind.File, pr.GetValue(force));
            var request = new MergeStudyRequest
            {
                ModelDir = pr.Model(dir),
                WorkDir = pr.GetValue(work)!,
                Groups = Ints(pr.GetValue(groups)!, "--groups"),
                CalibrationSeeds = Ints(pr.GetValue(calibSeeds)!, "--calib-seeds"),
                Similarities = Names(pr.GetValue(similarities)!).Select(s => SimilarityKinds.Parse(s, "--similarities")).ToList(),
                Merges = Names(pr.GetValue(merges)!).Select(m => MergeMethods.Parse(m, "--merges")).ToList(),
                Presets = Names(pr.GetValue(presets)!),
                Drops = Names(pr.GetValue(drops)!),
                Tasks = Names(pr.GetValue(tasks)!),
                TaskLimit = pr.GetValue(taskLimit),
                EvalSequencesPerGenre = pr.GetValue(evalSeqs),
                EvalTokensFile = pr.GetValue(evalTokens),
                Calibration = pr.GetValue(calib.Spec)!, CalibrationSequences = pr.GetValue(calib.Sequences),
                CalibrationLength = pr.GetValue(calib.Length), BatchSize = pr.GetValue(calib.BatchSize),
                SimilarityTokens = pr.GetValue(tokens),
                LearnedSteps = pr.GetValue(learnedSteps),
                ReportOnly = pr.GetValue(reportOnly),
            };
            var results = MergeStudy.Run(request, line => Console.Error.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {line}"));
            bool report = request.ReportOnly;                                                      // not the measuring command, nor its load
            string command = report ? "" : "./moeprune " + string.Join(" ", pr.Tokens.Select(t => t.Value));
            var run = new StudyRunInfo(command,
                $"{Environment.ProcessorCount} CPU cores, {(report ? "" : $"{torch.get_num_threads()} torch thread(s), ")}{RuntimeInformation.OSDescription}",
                report ? "" : loadBefore, report ? "" : LoadAverage());
            string text = MergeStudyMarkdown.Render(results, run);
            if (pr.GetValue(markdown) is { } md) IO.AtomicFile.WriteText(md, text);
            if (pr.GetValue(GlobalOptions.Json)) CliRunner.PrintJson(results);
            else Console.Write(text);
            return 0;
        });
        return cmd;
    }

    private static List<string> Names(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private static List<int> Ints(string text, string option) => Names(text).Select(s =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new MoePruneException($"{option}: '{s}' is not an integer")).ToList();

    private static string LoadAverage() => File.Exists("/proc/loadavg")
        ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3))
        : "unknown";
}
