using System.CommandLine;
using MoePrune.Data;
using MoePrune.Evaluation;
using MoePrune.Evaluation.Kl;
using MoePrune.Evaluation.LogLikelihood;
using MoePrune.Evaluation.Tasks;
using MoePrune.Layerwise;
using MoePrune.Models;
using MoePrune.Tokenization;
using MoePrune.Progress;
using Spectre.Console;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune eval [MODEL] --tasks T1,T2 [--shots K] [--limit N] [--batch-size B] [--out FILE] [--samples FILE]
/// [--markdown FILE] [--reference PARENT (--text-file F | --corpus brown:SPLIT) [--seq-len L]]</c>: multiple-choice and generative
/// tasks (built-in names or JSONL files, docs/EVALUATION.md) and the KL quality gate against a parent model.
/// Every input is read and checked before a model is loaded; the output files are written only at the end. When the
/// model (and the reference, together) does not fit the memory budget, or with --layerwise, the multiple-choice tasks
/// and the KL gate run layer by layer with the same results; generative tasks are then refused.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var dtype = ModelOptions.Dtype();
        var tasks = new Option<string?>("--tasks") { Description = "Comma-separated task names (built-in, or 'builtin' for all) or JSONL task files" };
        var shots = new Option<int>("--shots") { Description = "Demonstrations in front of each prompt", DefaultValueFactory = _ => 0 };
        var limit = new Option<int?>("--limit") { Description = "Only the first N test documents of each task (and the first N KL sequences)" };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per forward (at least)", DefaultValueFactory = _ => 8 };
        var batchTokens = new Option<int>("--batch-tokens")
        {
            Description = "Short task sequences are packed into a forward until it holds this many tokens, padding included (0: --batch-size only)",
            DefaultValueFactory = _ => EvalSettings.DefaultBatchTokens,
        };
        var seed = new Option<long>("--seed") { Description = "Seed of the k-shot draws", DefaultValueFactory = _ => FewShot.DefaultSeed };
        var addBos = new Option<bool>("--add-bos") { Description = "Put the tokenizer's BOS token in front of every prompt" };
        var outFile = OutputOptions.Out("Write results.json here", required: false);
        var force = OutputOptions.Force();
        var samples = new Option<string?>("--samples") { Description = "Write one JSON line per scored document here" };
        var markdown = new Option<string?>("--markdown") { Description = "Write the results as a Markdown table here" };
        var reference = new Option<string?>("--reference") { Description = "Parent model directory: report KL(parent ‖ model) on --text or --corpus" };
        var text = new Option<string?>("--text-file") { Description = "UTF-8 text file for the KL gate" };
        var corpus = new Option<string?>("--corpus") { Description = "Brown split for the KL gate: brown:validation, brown:test (or brown:train)" };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per KL sequence", DefaultValueFactory = _ => 1024 };
        var layerwise = LayerwiseOptions.Create();
        var cmd = new Command("eval", "Score multiple-choice and generative tasks zero- or k-shot, and the KL divergence from a parent model")
            { dir, tasks, shots, limit, batch, batchTokens, seed, addBos, outFile, force, samples, markdown, reference, text, corpus, seqLen, dtype };
        layerwise.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            string modelDir = pr.Model(dir);
            bool json = pr.GetValue(GlobalOptions.Json);
            var settings = new EvalSettings(pr.GetValue(shots), pr.GetValue(limit), pr.GetValue(batch), pr.GetValue(addBos), pr.GetValue(seed), pr.GetValue(batchTokens));
            if (settings.BatchSize < 1) throw new MoePruneException($"--batch-size: {settings.BatchSize} must be at least 1");
            if (settings.BatchTokens < 0) throw new MoePruneException($"--batch-tokens: {settings.BatchTokens} must be at least 0");
            if (settings.Limit is < 1) throw new MoePruneException($"--limit: {settings.Limit} must be at least 1");
            string? referenceDir = pr.GetValue(reference);
            string? taskList = pr.GetValue(tasks);
            if (taskList is null && referenceDir is null) throw new MoePruneException("eval: give --tasks, --reference, or both");
            var execution = layerwise.Bind(pr);
            foreach (var path in new[] { pr.GetValue(outFile), pr.GetValue(samples), pr.GetValue(markdown) })
                if (path is not null) OutputOptions.Claim(path, IO.OutputKind.File, pr.GetValue(force));

            var tokenizer = HfTokenizer.Load(modelDir);
            var encoder = new ContinuationEncoder(tokenizer, settings.AddBos);
            var prepared = taskList is null ? []
                : TaskCatalog.Load(taskList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                             .Select(t => TaskRunner.Prepare(t, encoder, settings)).ToList();
            List<int[]>? klSequences = null;
            if (referenceDir is not null)
            {
                CheckSameVocabulary(modelDir, referenceDir, tokenizer);
                klSequences = KlSequences(tokenizer, pr.GetValue(text), pr.GetValue(corpus), pr.GetValue(seqLen), settings.Limit);
            }
            else if (pr.GetValue(text) is not null || pr.GetValue(corpus) is not null)
                throw new MoePruneException("--text-file and --corpus are the KL gate's input: give --reference too");

            var dt = pr.DtypeValue(dtype);
            if (execution.Force) LayerwiseEvaluation.RefuseGenerative(prepared);
            using (var checkpoint = LayerwiseCheckpoint.Open(modelDir, dt))
            using (var parentCheckpoint = referenceDir is null ? null : LayerwiseCheckpoint.Open(referenceDir, dt))
            {
                var choice = ExecutionChoice.Decide(checkpoint, execution, CliOptionNames.Map, parentCheckpoint);
                if (choice.Layerwise)
                {
                    LayerwiseEvaluation.RefuseGenerative(prepared);
                    var (report, summary) = Layerwise(checkpoint, parentCheckpoint, choice, prepared, klSequences, settings, modelDir, referenceDir);
                    return Finish(report, summary, pr.GetValue(outFile), pr.GetValue(samples), pr.GetValue(markdown), json);
                }
            }
            using var model = ModelLoader.Load(modelDir, dt);
            using var parent = referenceDir is null ? null : ModelLoader.Load(referenceDir, dt);
            var (results, kl) = WithProgress(prepared, klSequences?.Count ?? 0, report =>
            {
                var results = new List<TaskResult>();
                foreach (var p in prepared)
                    results.Add(TaskRunner.Run(model, p, encoder, settings.BatchSize, done => report(p.Task.Name, done), settings.BatchTokens));
                KlResult? kl = parent is null ? null
                    : KlDivergence.Evaluate(model, parent, klSequences!, settings.BatchSize, done => report(KlLabel, done));
                return (results, kl);
            });
            return Finish(new EvaluationReport(modelDir, results, kl, settings, referenceDir), null,
                          pr.GetValue(outFile), pr.GetValue(samples), pr.GetValue(markdown), json);
        });
        return cmd;
    }

    /// <summary>Multiple-choice tasks and the KL gate layer by layer (<see cref="LayerwiseEvaluation"/>), reported as in memory plus the run's summary.</summary>
    static (EvaluationReport, LayerwiseSummary) Layerwise(LayerwiseCheckpoint checkpoint, LayerwiseCheckpoint? parent, ExecutionChoice choice,
        IReadOnlyList<PreparedTask> prepared, List<int[]>? klSequences, EvalSettings settings, string modelDir, string? referenceDir)
    {
        double disk = DiskReadRate.Measure(checkpoint.Dir, checkpoint.ShardFiles);
        long largest = Math.Max(checkpoint.Sizes.LargestUnit, parent?.Sizes.LargestUnit ?? 0);
        long hiddenMemory = Math.Max(0, choice.BudgetBytes - largest - (parent is null ? 0 : checkpoint.Sizes.Output)); // the model's output weight meets the reference's head
        var run = LayerwiseEvaluation.Run(checkpoint, prepared, parent, klSequences, settings.BatchSize, settings.BatchTokens, hiddenMemory);
        var summary = new LayerwiseSummary(choice.Reason, choice.BudgetBytes, largest, run.HiddenBytes, run.Spilled,
                                           checkpoint.BytesRead + (parent?.BytesRead ?? 0), checkpoint.ReadSeconds + (parent?.ReadSeconds ?? 0), disk);
        return (new EvaluationReport(modelDir, run.Tasks, run.Kl, settings, referenceDir) { Layerwise = LayerwiseOptions.ToJson(summary) }, summary);
    }

    /// <summary>Writes the files asked for, then prints the report (and the layer-by-layer line or JSON field).</summary>
    static int Finish(EvaluationReport evaluation, LayerwiseSummary? layerwise, string? outFile, string? samples, string? markdown, bool json)
    {
        evaluation.Write(outFile, samples, markdown);
        if (json) CliRunner.PrintJson(evaluation.ToJson());
        else
        {
            if (layerwise is not null) Console.WriteLine(LayerwiseOptions.Describe(layerwise));
            Console.Write(evaluation.ToMarkdown());
        }
        return 0;
    }
    const string KlLabel = "KL gate";

    /// <summary>Refuses a reference whose vocabulary differs: config vocab_size, and token by token when both have a tokenizer.</summary>
    static void CheckSameVocabulary(string modelDir, string referenceDir, HfTokenizer tokenizer)
    {
        var mine = MoeConfig.Load(Path.Combine(modelDir, "config.json"));
        var theirs = MoeConfig.Load(Path.Combine(referenceDir, "config.json"));
        if (mine.VocabSize != theirs.VocabSize)
            throw new MoePruneException($"--reference {referenceDir}: its vocabulary has {theirs.VocabSize} tokens and {modelDir}'s {mine.VocabSize}; KL needs the same vocabulary");
        bool hasTokenizer = File.Exists(Path.Combine(referenceDir, "tokenizer.json")) || File.Exists(Path.Combine(referenceDir, "tokenizer.json.gz"));
        if (!hasTokenizer) return;
        var other = HfTokenizer.Load(referenceDir);
        int size = Math.Max(tokenizer.VocabSize, other.VocabSize);
        for (int id = 0; id < size; id++)
            if (tokenizer.TokenOf(id) != other.TokenOf(id))
                throw new MoePruneException($"--reference {referenceDir}: its tokenizer differs from {modelDir}'s (token {id}: \"{other.TokenOf(id)}\" vs \"{tokenizer.TokenOf(id)}\"); KL needs the same vocabulary");
    }

    static List<int[]> KlSequences(HfTokenizer tokenizer, string? text, string? corpus, int length, int? limit)
    {
        if ((text is null) == (corpus is null)) throw new MoePruneException("--reference: give exactly one of --text-file, --corpus");
        if (length < 2) throw new MoePruneException($"--seq-len: {length} must be at least 2");
        List<int[]> sequences;
        if (text is not null)
        {
            if (!File.Exists(text)) throw new MoePruneException($"{text}: text file not found (--text-file)");
            var ids = tokenizer.Encode(File.ReadAllText(text), addSpecialTokens: false).ToArray();
            sequences = [];
            for (int start = 0; start + 2 <= ids.Length; start += length) sequences.Add(ids[start..Math.Min(ids.Length, start + length)]);
            if (sequences.Count == 0) throw new MoePruneException($"{text}: fewer than 2 tokens (--text-file)");
        }
        else
        {
            string name = corpus!.StartsWith("brown:", StringComparison.Ordinal) ? corpus[6..] : corpus;
            if (!Enum.TryParse<CorpusSplit>(name, ignoreCase: true, out var split) || int.TryParse(name, out _))
                throw new MoePruneException($"--corpus {corpus}: expected brown:validation, brown:test or brown:train");
            sequences = GenrePerplexity.Sequences(tokenizer, split, length).SelectMany(g => g.Sequences).ToList();
        }
        return limit is int n ? sequences.Take(n).ToList() : sequences;
    }

    /// <summary>Runs <paramref name="work"/> with one progress bar per task (and the KL gate) on a terminal's stderr (also under --json); plain periodic lines otherwise.</summary>
    static T WithProgress<T>(IReadOnlyList<PreparedTask> tasks, int klSequences, Func<Action<string, int>, T> work)
    {
        if (Console.IsErrorRedirected)                                                   // logs and pipes: the shared plain-line reporter
            return work((name, done) => StepProgress.Report("eval", done, tasks.FirstOrDefault(t => t.Task.Name == name)?.Work ?? klSequences, "items", name));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var bars = tasks.ToDictionary(t => t.Task.Name, t => ctx.AddTask(Markup.Escape(t.Task.Name), maxValue: Math.Max(1, t.Work)));
                if (klSequences > 0) bars[KlLabel] = ctx.AddTask(KlLabel, maxValue: klSequences);
                var result = work((name, done) => bars[name].Value = done);
                foreach (var bar in bars.Values) bar.Value = bar.MaxValue;
                return result;
            });
    }
}
