using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Evaluation;
using MoePrune.Models;

namespace MoePrune.Cli.Commands;

/// <summary><c>moeprune perplexity MODEL_DIR --tokens FILE</c>: mean next-token NLL of token-id sequences.</summary>
public static class PerplexityCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var dtype = ModelOptions.Dtype();
        var tokens = new Option<string>("--tokens")
        {
            Description = "File of whitespace-separated token ids, one sequence per line",
            Required = true,
        };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per forward", DefaultValueFactory = _ => 8 };
        var cmd = new Command("perplexity", "Mean next-token NLL and perplexity of token sequences") { dir, tokens, dtype, batch };
        cmd.SetAction(pr =>
        {
            var sequences = Perplexity.ReadTokenFile(pr.GetValue(tokens)!);
            using var model = ModelLoader.Load(pr.GetValue(dir)!, DtypeNames.ParseOption(pr.GetValue(dtype)));
            var clock = Stopwatch.StartNew();
            var result = Perplexity.Evaluate(model, sequences, pr.GetValue(batch));
            double seconds = clock.Elapsed.TotalSeconds;
            if (pr.GetValue(GlobalOptions.Json))
            {
                CliRunner.PrintJson(new JsonObject
                {
                    ["tokens"] = result.Tokens,
                    ["mean_nll"] = result.MeanNll,
                    ["perplexity"] = result.Perplexity,
                    ["sequences"] = sequences.Count,
                    ["dtype"] = DtypeNames.ToConfigName(model.Dtype),
                    ["seconds"] = Math.Round(seconds, 3),
                });
                return 0;
            }
            Console.WriteLine($"tokens      {result.Tokens} predicted in {sequences.Count} sequences ({DtypeNames.ToConfigName(model.Dtype)}, {seconds:F2} s)");
            Console.WriteLine($"mean NLL    {result.MeanNll:F6}");
            Console.WriteLine($"perplexity  {result.Perplexity:F4}");
            return 0;
        });
        return cmd;
    }
}
