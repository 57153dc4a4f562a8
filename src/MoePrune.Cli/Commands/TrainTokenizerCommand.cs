using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Tokenization;

namespace MoePrune.Cli.Commands;

/// <summary><c>moeprune train-tokenizer --text-file F… --vocab-size N --out DIR</c>: deterministic byte-level BPE training.</summary>
public static class TrainTokenizerCommand
{
    public static Command Create()
    {
        var corpus = new Option<string[]>("--text-file") { Description = "UTF-8 training text file(s)", Required = true, AllowMultipleArgumentsPerToken = true };
        var vocabSize = new Option<int>("--vocab-size") { Description = "Final vocabulary size (256 bytes + merges + special tokens)", DefaultValueFactory = _ => 4096 };
        var output = OutputOptions.Out("Folder for tokenizer.json and tokenizer_config.json");
        var force = OutputOptions.Force();
        var special = new Option<string[]>("--special") { Description = "Special token (repeatable); default <|endoftext|> <|pad|>" };
        var pattern = new Option<string?>("--pattern") { Description = "Pre-tokenizer regex (default: the Qwen2 split)" };
        var minFrequency = new Option<int>("--min-frequency") { Description = "Never merge a pair seen fewer times", DefaultValueFactory = _ => 2 };

        var cmd = new Command("train-tokenizer", "Train a deterministic byte-level BPE tokenizer and write an HF tokenizer.json");
        foreach (var o in new Option[] { corpus, vocabSize, output, force, special, pattern, minFrequency }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var files = pr.GetValue(corpus)!;
            foreach (var f in files)
                if (!File.Exists(f)) throw new MoePruneException($"{f}: file not found (--text-file)");
            string dir = pr.GetValue(output)!;
            OutputOptions.Claim(dir, IO.OutputKind.Directory, pr.GetValue(force));
            var defaults = new BpeTrainerOptions();
            var specials = pr.GetValue(special) is { Length: > 0 } given ? given : defaults.SpecialTokens.ToArray();
            var options = defaults with
            {
                VocabSize = pr.GetValue(vocabSize),
                SpecialTokens = specials,
                PreTokenizerPattern = pr.GetValue(pattern) ?? defaults.PreTokenizerPattern,
                MinFrequency = pr.GetValue(minFrequency),
                EosToken = specials.Contains(defaults.EosToken) ? defaults.EosToken : null,
                PadToken = specials.Contains(defaults.PadToken) ? defaults.PadToken : null,
            };
            var trained = new BpeTrainer(options).Train(files.Select(File.ReadAllText));
            IO.AtomicDirectory.Create(dir, trained.Save);
            var summary = new JsonObject
            {
                ["out"] = Path.GetFullPath(dir),
                ["vocab_size"] = trained.VocabSize,
                ["merges"] = trained.Merges.Count,
                ["distinct_words"] = trained.DistinctWords,
                ["seconds"] = Math.Round(trained.Elapsed.TotalSeconds, 3),
            };
            if (pr.GetValue(GlobalOptions.Json)) CliRunner.PrintJson(summary);
            else Console.WriteLine($"wrote {summary["out"]}/tokenizer.json: vocab {trained.VocabSize}, {trained.Merges.Count} merges, " +
                                   $"{trained.DistinctWords} distinct words, {summary["seconds"]} s");
            return 0;
        });
        return cmd;
    }
}
