using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Generation;
using MoePrune.Models;
using MoePrune.Tokenization;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune generate [MODEL] --prompt S [--max-new-tokens N] [--stop S …] [--no-cache]</c>: greedy
/// continuation of a prompt, tokenized with the model directory's tokenizer.json (special tokens added as the
/// tokenizer's post-processor says, like transformers' <c>tokenizer(prompt)</c>). Stops at the model's EOS
/// token, a stop string (not printed) or the token limit. MODEL defaults to models/default.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var dtype = ModelOptions.Dtype();
        var prompt = new Option<string>("--prompt") { Description = "The text to continue", Required = true };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 64 };
        var stop = new Option<string[]>("--stop") { Description = "Stop before this string (repeatable)", Arity = ArgumentArity.ZeroOrMore };
        var noCache = new Option<bool>("--no-cache") { Description = "Recompute the whole prefix every step (slow; for comparison)" };
        var cmd = new Command("generate", "Greedy continuation of a prompt with the KV cache") { dir, prompt, maxNew, stop, noCache, dtype };
        cmd.SetAction(pr =>
        {
            string modelDir = pr.Model(dir);
            int max = pr.GetValue(maxNew);
            if (max < 1) throw new MoePruneException($"--max-new-tokens: {max} must be at least 1");
            var stops = new StopStrings(pr.GetValue(stop) ?? []);
            var tokenizer = HfTokenizer.Load(modelDir);
            string text = pr.GetValue(prompt)!;
            var ids = tokenizer.Encode(text).ToArray();
            if (ids.Length == 0) throw new MoePruneException("--prompt: the text encodes to no tokens");
            var dt = pr.DtypeValue(dtype);
            using var model = ModelLoader.Load(modelDir, dt);
            var options = new GenerationOptions(max, EosTokens.Of(modelDir, model.Config, tokenizer.EosId), BatchSize: 1, UseCache: !pr.GetValue(noCache));
            var clock = Stopwatch.StartNew();
            var generated = GreedyDecoder.Generate(model, [ids], options,
                stops.Values.Count == 0 ? null : (_, soFar) => stops.Reached(tokenizer.Decode(soFar)))[0];
            double seconds = clock.Elapsed.TotalSeconds;
            string decoded = tokenizer.Decode(generated);
            string reason = stops.Reached(decoded) ? "stop" : generated.Length == max ? "length" : "eos";
            string completion = stops.Cut(decoded);
            if (!pr.GetValue(GlobalOptions.Json))
            {
                Console.WriteLine(completion);
                return 0;
            }
            CliRunner.PrintJson(new JsonObject
            {
                ["prompt"] = text,
                ["completion"] = completion,
                ["prompt_tokens"] = ids.Length,
                ["new_tokens"] = generated.Length,
                ["token_ids"] = new JsonArray(generated.Select(t => (JsonNode)t).ToArray()),
                ["stop_reason"] = reason,
                ["cache"] = options.UseCache,
                ["dtype"] = DtypeNames.ToConfigName(model.Dtype),
                ["seconds"] = Math.Round(seconds, 4),
                ["tokens_per_second"] = Math.Round(generated.Length / Math.Max(seconds, 1e-9), 1),
            });
            return 0;
        });
        return cmd;
    }
}
