using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Data;
using MoePrune.Evaluation;
using MoePrune.Layerwise;
using MoePrune.Models;
using MoePrune.Tokenization;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune perplexity [MODEL_DIR] (--tokens FILE | --text FILE | --corpus brown:SPLIT)</c>: mean next-token
/// NLL of token-id sequences, of a UTF-8 text (the model's tokenizer, cut into --seq-len pieces) or of a Brown
/// split per genre. MODEL_DIR defaults to models/default. A model that does not fit the memory budget (or any, with
/// --layerwise) is evaluated layer by layer with the same result.
/// </summary>
public static class PerplexityCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDirOrDefault();
        var dtype = ModelOptions.Dtype();
        var tokens = new Option<string?>("--tokens") { Description = "File of whitespace-separated token ids, one sequence per line" };
        var text = new Option<string?>("--text") { Description = "UTF-8 text file, tokenized with the model's tokenizer" };
        var corpus = new Option<string?>("--corpus") { Description = "brown:train, brown:validation or brown:test (reported per genre)" };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per sequence for --text and --corpus", DefaultValueFactory = _ => 256 };
        var perGenre = new Option<int>("--max-per-genre") { Description = "Only the first N sequences of each genre (0: all)", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per forward", DefaultValueFactory = _ => 8 };
        var layerwise = LayerwiseOptions.Create();
        var cmd = new Command("perplexity", "Mean next-token NLL and perplexity of token sequences, a text file or a Brown split")
            { dir, tokens, text, corpus, seqLen, perGenre, dtype, batch };
        layerwise.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            string modelDir = pr.GetValue(dir)!;
            int given = new[] { pr.GetValue(tokens), pr.GetValue(text), pr.GetValue(corpus) }.Count(v => v is not null);
            if (given != 1) throw new MoePruneException("perplexity: give exactly one of --tokens, --text, --corpus");
            int length = pr.GetValue(seqLen);
            if (length < 2) throw new MoePruneException($"--seq-len: {length} must be at least 2");
            var groups = Inputs(modelDir, pr.GetValue(tokens), pr.GetValue(text), pr.GetValue(corpus), length, pr.GetValue(perGenre));
            var requested = DtypeNames.ParseOption(pr.GetValue(dtype));
            bool json = pr.GetValue(GlobalOptions.Json);
            var settings = layerwise.Bind(pr);
            using (var checkpoint = LayerwiseCheckpoint.Open(modelDir, requested))
            {
                var choice = ExecutionChoice.Decide(checkpoint, settings, CliOptionNames.Map);
                if (choice.Layerwise)
                    return LayerwiseProgressView.Run(json, pr.GetValue(GlobalOptions.Verbose),
                        (_, progress) => Layerwise(checkpoint, choice, groups, pr.GetValue(batch), json, progress));
            }
            using var model = ModelLoader.Load(modelDir, requested);
            var clock = Stopwatch.StartNew();
            var results = groups.Count == 1
                ? [new GenreResult("all", groups[0].Sequences.Count, Perplexity.Evaluate(model, groups[0].Sequences, pr.GetValue(batch)))]
                : GenrePerplexity.Evaluate(model, groups, pr.GetValue(batch));
            return Print(results, model.Dtype, clock.Elapsed.TotalSeconds, json, null);
        });
        return cmd;
    }

    /// <summary>The same evaluation layer by layer: one run over every group's batches, results as the in-memory path gives them.</summary>
    static int Layerwise(LayerwiseCheckpoint checkpoint, ExecutionChoice choice, List<(BrownGenre Genre, List<int[]> Sequences)> groups,
                         int batchSize, bool json, Action<LayerwiseProgress>? progress)
    {
        var clock = Stopwatch.StartNew();
        double? disk = DiskReadRate.Measure(checkpoint.Dir, checkpoint.ShardFiles);
        var (values, hiddenBytes, spilled) = LayerwisePerplexity.Evaluate(checkpoint, groups.Select(g => (IReadOnlyList<int[]>)g.Sequences).ToList(),
            batchSize, choice.HiddenMemoryBytes(checkpoint.Sizes), progress: progress);
        var results = groups.Zip(values, (g, r) => new GenreResult(g.Genre.Name, g.Sequences.Count, r)).ToList();
        if (groups.Count > 1)
        {
            long tokens = values.Sum(r => r.Tokens);
            results.Add(new GenreResult("all", groups.Sum(g => g.Sequences.Count), new PerplexityResult(tokens, values.Sum(r => r.MeanNll * r.Tokens) / tokens)));
        }
        var summary = new LayerwiseSummary(choice.Reason, choice.BudgetBytes, checkpoint.Sizes.LargestUnit, hiddenBytes, spilled,
                                           checkpoint.BytesRead, checkpoint.ReadSeconds, disk);
        return Print(results, checkpoint.Dtype, clock.Elapsed.TotalSeconds, json, summary);
    }

    static List<(BrownGenre Genre, List<int[]> Sequences)> Inputs(string modelDir, string? tokens, string? text, string? corpus, int length, int perGenre)
    {
        var all = new BrownGenre('*', "all", "all");
        if (tokens is not null) return [(all, Perplexity.ReadTokenFile(tokens).ToList())];
        var tokenizer = HfTokenizer.Load(modelDir);
        if (text is not null)
        {
            if (!File.Exists(text)) throw new MoePruneException($"{text}: text file not found (--text)");
            var ids = tokenizer.Encode(File.ReadAllText(text), addSpecialTokens: false).ToArray();
            var sequences = new List<int[]>();
            for (int start = 0; start + 2 <= ids.Length; start += length) sequences.Add(ids[start..Math.Min(ids.Length, start + length)]);
            if (sequences.Count == 0) throw new MoePruneException($"{text}: fewer than 2 tokens");
            return [(all, sequences)];
        }
        var parts = corpus!.Split(':');
        if (parts.Length != 2 || parts[0] != "brown" || !Enum.TryParse<CorpusSplit>(parts[1], ignoreCase: true, out var split))
            throw new MoePruneException($"--corpus {corpus}: expected brown:train, brown:validation or brown:test");
        return GenrePerplexity.Sequences(tokenizer, split, length, perGenre).ToList();
    }

    static int Print(List<GenreResult> results, TorchSharp.torch.ScalarType dtype, double seconds, bool json, LayerwiseSummary? layerwise)
    {
        var total = results[^1];
        if (json)
        {
            var o = new JsonObject
            {
                ["tokens"] = total.Result.Tokens, ["mean_nll"] = total.Result.MeanNll, ["perplexity"] = total.Result.Perplexity,
                ["sequences"] = total.Sequences, ["dtype"] = DtypeNames.ToConfigName(dtype), ["seconds"] = Math.Round(seconds, 3),
            };
            if (layerwise is not null) o["layerwise"] = LayerwiseOptions.ToJson(layerwise);
            if (results.Count > 1)
            {
                var genres = new JsonObject();
                foreach (var r in results.Take(results.Count - 1))
                    genres[r.Genre] = new JsonObject { ["tokens"] = r.Result.Tokens, ["mean_nll"] = r.Result.MeanNll, ["perplexity"] = r.Result.Perplexity };
                o["per_genre"] = genres;
            }
            CliRunner.PrintJson(o);
            return 0;
        }
        if (results.Count > 1)
            foreach (var r in results.Take(results.Count - 1))
                Console.WriteLine($"{r.Genre,-20} {r.Result.Tokens,8} tokens  NLL {r.Result.MeanNll:F4}  ppl {r.Result.Perplexity:F2}");
        if (layerwise is not null) Console.WriteLine(LayerwiseOptions.Describe(layerwise));
        Console.WriteLine($"tokens      {total.Result.Tokens} predicted in {total.Sequences} sequences ({DtypeNames.ToConfigName(dtype)}, {seconds:F2} s)");
        Console.WriteLine($"mean NLL    {total.Result.MeanNll:F6}");
        Console.WriteLine($"perplexity  {total.Result.Perplexity:F4}");
        return 0;
    }
}
