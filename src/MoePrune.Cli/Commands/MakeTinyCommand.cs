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
        var output = OutputOptions.Out("Output model folder");
        var force = OutputOptions.Force();
        var seed = new Option<int>("--seed") { Description = "Seed of the random weights", DefaultValueFactory = _ => 0 };
        var dtype = ModelOptions.Dtype($"Dtype the weights are held and written in: {ModelOptions.DtypeValues} (default: f32)");
        var cmd = new Command("make-tiny", "Write a tiny random checkpoint of a family (for trying the tools)") { family, output, force, seed, dtype };
        cmd.SetAction(pr =>
        {
            var dt = pr.DtypeValue(dtype) ?? TorchSharp.torch.ScalarType.Float32;
            var outDir = pr.GetValue(output)!;
            OutputOptions.Claim(outDir, IO.OutputKind.Directory, pr.GetValue(force));
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
