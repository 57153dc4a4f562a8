using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Data;
using MoePrune.Evaluation;
using MoePrune.Models;
using MoePrune.Tokenization;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune perplexity [MODEL] (--token-file F | --text S | --text-file F | --corpus brown:SPLIT)</c>: mean
/// next-token NLL of token-id sequences, of a text (the model's tokenizer, cut into --seq-len pieces) or of a
/// Brown split per genre. The JSON names the model and the data measured.
/// </summary>
public static class PerplexityCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var dtype = ModelOptions.Dtype();
        var tokenFile = new Option<string?>("--token-file") { Description = "File of whitespace-separated token ids, one sequence per line" };
        var text = new Option<string?>("--text") { Description = "Text to measure, given literally (tokenized with the model's tokenizer)" };
        var textFile = new Option<string?>("--text-file") { Description = "UTF-8 text file to measure (tokenized with the model's tokenizer)" };
        var corpus = new Option<string?>("--corpus") { Description = "brown:train, brown:validation or brown:test (reported per genre)" };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per sequence for --text, --text-file and --corpus", DefaultValueFactory = _ => 256 };
        var sequences = new Option<int>("--sequences") { Description = "Only the first N sequences (of each genre for --corpus; 0: all)", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per forward", DefaultValueFactory = _ => 8 };
        var cmd = new Command("perplexity", "Mean next-token NLL and perplexity of token ids, a text or a Brown split")
            { dir, tokenFile, text, textFile, corpus, seqLen, sequences, dtype, batch };
        cmd.SetAction(pr =>
        {
            string modelDir = pr.Model(dir);
            var given = new[] { (tokenFile, pr.GetValue(tokenFile)), (text, pr.GetValue(text)), (textFile, pr.GetValue(textFile)), (corpus, pr.GetValue(corpus)) }
                .Where(g => g.Item2 is not null).ToList();
            if (given.Count != 1)
                throw new MoePruneException($"perplexity: give exactly one of {tokenFile.Name}, {text.Name}, {textFile.Name}, {corpus.Name}");
            int length = pr.GetValue(seqLen), first = pr.GetValue(sequences);
            if (length < 2) throw new MoePruneException($"{seqLen.Name}: {length} must be at least 2");
            if (first < 0) throw new MoePruneException($"{sequences.Name}: {first} must not be negative");
            var dt = pr.DtypeValue(dtype);
            var (groups, data) = Inputs(modelDir, pr.GetValue(tokenFile), pr.GetValue(text), pr.GetValue(textFile), pr.GetValue(corpus), length, first);
            using var model = ModelLoader.Load(modelDir, dt);
            if (pr.GetValue(tokenFile) is { } ids)                                          // ids checked against the model's vocabulary, naming the line
                groups = [(groups[0].Genre, Perplexity.ReadTokenFile(ids, model.Config.VocabSize).Take(first > 0 ? first : int.MaxValue).ToList())];
            var clock = Stopwatch.StartNew();
            var results = groups.Count == 1
                ? [new GenreResult("all", groups[0].Sequences.Count, Perplexity.Evaluate(model, groups[0].Sequences, pr.GetValue(batch)))]
                : GenrePerplexity.Evaluate(model, groups, pr.GetValue(batch));
            data["model"] = Path.GetFullPath(modelDir);
            return Print(results, model, data, clock.Elapsed.TotalSeconds, pr.GetValue(GlobalOptions.Json));
        });
        return cmd;
    }

    static (List<(BrownGenre Genre, List<int[]> Sequences)>, JsonObject Data) Inputs(string modelDir, string? tokenFile, string? text, string? textFile,
                                                                                    string? corpus, int length, int first)
    {
        var all = new BrownGenre('*', "all", "all");
        if (tokenFile is not null)
        {
            var lines = Perplexity.ReadTokenFile(tokenFile);
            return ([(all, lines.ToList())], new JsonObject { ["token_file"] = Path.GetFullPath(tokenFile) });
        }
        if (corpus is not null)
        {
            var parts = corpus.Split(':');
            if (parts.Length != 2 || parts[0] != "brown" || !Enum.TryParse<CorpusSplit>(parts[1], ignoreCase: true, out var split))
                throw new MoePruneException($"--corpus {corpus}: expected brown:train, brown:validation or brown:test");
            var tokenizer = HfTokenizer.Load(modelDir);
            return (GenrePerplexity.Sequences(tokenizer, split, length, first).ToList(),
                    new JsonObject { ["corpus"] = corpus, ["sequence_length"] = length, ["sequences_per_genre"] = first == 0 ? null : first });
        }
        string name = textFile ?? "--text";
        if (textFile is not null && !File.Exists(textFile)) throw new MoePruneException($"{textFile}: text file not found (--text-file)");
        string content = textFile is null ? text! : File.ReadAllText(textFile);
        if (string.IsNullOrWhiteSpace(content)) throw new MoePruneException($"{name}: the text is empty or only whitespace; nothing to measure");
        var ids = HfTokenizer.Load(modelDir).Encode(content, addSpecialTokens: false).ToArray();
        var sequences = new List<int[]>();
        for (int start = 0; start + 2 <= ids.Length; start += length) sequences.Add(ids[start..Math.Min(ids.Length, start + length)]);
        if (sequences.Count == 0) throw new MoePruneException($"{name}: the text encodes to fewer than 2 tokens; nothing to predict");
        if (first > 0) sequences = sequences.Take(first).ToList();
        var data = textFile is null
            ? new JsonObject { ["text_characters"] = content.Length }
            : new JsonObject { ["text_file"] = Path.GetFullPath(textFile) };
        data["sequence_length"] = length;
        return ([(all, sequences)], data);
    }

    static int Print(List<GenreResult> results, MoeForCausalLM model, JsonObject data, double seconds, bool json)
    {
        var total = results[^1];
        if (json)
        {
            var o = new JsonObject
            {
                ["model"] = data["model"]!.DeepClone(), ["data"] = data,
                ["tokens"] = total.Result.Tokens, ["mean_nll"] = total.Result.MeanNll, ["perplexity"] = total.Result.Perplexity,
                ["sequences"] = total.Sequences, ["dtype"] = DtypeNames.ToConfigName(model.Dtype), ["seconds"] = Math.Round(seconds, 3),
            };
            data.Remove("model");
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
        Console.WriteLine($"tokens      {total.Result.Tokens} predicted in {total.Sequences} sequences ({DtypeNames.ToConfigName(model.Dtype)}, {seconds:F2} s)");
        Console.WriteLine($"mean NLL    {total.Result.MeanNll:F6}");
        Console.WriteLine($"perplexity  {total.Result.Perplexity:F4}");
        return 0;
    }
}
