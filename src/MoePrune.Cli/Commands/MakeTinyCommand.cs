using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Models;

namespace MoePrune.Cli.Commands;

/// <summary><c>moeprune make-tiny FAMILY --out DIR</c>: a small random-weight checkpoint of a family.</summary>
public static class MakeTinyCommand
{
    public static Command Create()
    {
        var family = new Argument<string>("family") { Description = $"One of: {string.Join(", ", TinyCheckpoint.Families)}" };
        var output = new Option<string>("--out") { Description = "Output directory (must not exist or be empty)", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 0 };
        var dtype = new Option<string?>("--dtype") { Description = "Stored dtype: fp32 (default) or bf16" };
        var cmd = new Command("make-tiny", "Write a tiny random checkpoint of a family (for trying the tools)") { family, output, seed, dtype };
        cmd.SetAction(pr =>
        {
            var dt = DtypeNames.ParseOption(pr.GetValue(dtype)) ?? TorchSharp.torch.ScalarType.Float32;
            var outDir = pr.GetValue(output)!;
            var config = TinyCheckpoint.Write(pr.GetValue(family)!, outDir, pr.GetValue(seed), dt);
            if (pr.GetValue(GlobalOptions.Json))
                CliRunner.PrintJson(new JsonObject { ["out"] = outDir, ["model_type"] = config.ModelType, ["dtype"] = DtypeNames.ToConfigName(dt) });
            else
                Console.WriteLine($"wrote a tiny {config.ModelType} checkpoint to {outDir}");
            return 0;
        });
        return cmd;
    }
}
