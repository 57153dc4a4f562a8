using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Jobs;
using MoePrune.Tokenization;

namespace MoePrune.Cli.Commands;

/// <summary><c>moeprune tokenize [TOKENIZER] --text S | --text-file F</c>: prints the token ids.</summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var path = new Argument<string?>("tokenizer")
        {
            Description = $"tokenizer.json (or .json.gz) or a model folder holding it (default: {DefaultModel.RelativeDir})",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var text = new Option<string?>("--text") { Description = "Text to tokenize, given literally" };
        var file = new Option<string?>("--text-file") { Description = "UTF-8 file whose whole content is tokenized" };
        var noSpecial = new Option<bool>("--no-special") { Description = "Omit the BOS/EOS the post-processor would add" };

        var cmd = new Command("tokenize", "Encode text with a Hugging Face tokenizer.json and print the token ids") { path, text, file, noSpecial };
        cmd.SetAction(pr =>
        {
            string input = ReadInput(pr.GetValue(text), pr.GetValue(file));
            var tokenizer = HfTokenizer.Load(DefaultModel.Resolve(pr.GetValue(path)));
            var ids = tokenizer.Encode(input, addSpecialTokens: !pr.GetValue(noSpecial));
            if (pr.GetValue(GlobalOptions.Json))
                CliRunner.PrintJson(new JsonObject { ["ids"] = new JsonArray(ids.Select(i => (JsonNode)i).ToArray()) });
            else
                Console.WriteLine(string.Join(' ', ids));
            return 0;
        });
        return cmd;
    }

    static string ReadInput(string? text, string? file)
    {
        if (text is not null && file is not null) throw new MoePruneException("--text and --text-file: give only one of them");
        if (text is not null) return text;
        if (file is null) throw new MoePruneException("tokenize: give the text with --text or --text-file");
        if (!File.Exists(file)) throw new MoePruneException($"{file}: file not found (--text-file)");
        return File.ReadAllText(file);
    }
}
