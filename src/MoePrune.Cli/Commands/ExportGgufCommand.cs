using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.IO.Gguf;

namespace MoePrune.Cli.Commands;

/// <summary><c>moeprune export-gguf [MODEL] --out model.gguf [--dtype f32|f16|bf16]</c>: a GGUF file for llama.cpp.</summary>
public static class ExportGgufCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var output = OutputOptions.Out("Output GGUF file");
        var force = OutputOptions.Force();
        var dtype = ModelOptions.Dtype("Dtype the matrices are written in: f32, f16 or bf16 (default: the checkpoint's); norms and routers stay f32");
        var cmd = new Command("export-gguf", "Write a checkpoint as a GGUF file for llama.cpp, tokenizer embedded (refuses what llama.cpp would compute differently)")
        {
            dir, output, force, dtype,
        };
        cmd.SetAction(pr =>
        {
            GgufFloatType? fileType = pr.DtypeValue(dtype) switch
            {
                null => null,
                TorchSharp.torch.ScalarType.Float32 => GgufFloatType.F32,
                TorchSharp.torch.ScalarType.Float16 => GgufFloatType.F16,
                _ => GgufFloatType.BF16,
            };
            string modelDir = pr.Model(dir), outFile = pr.GetValue(output)!;
            OutputOptions.Claim(outFile, IO.OutputKind.File, pr.GetValue(force));
            var summary = GgufExporter.ExportCheckpoint(modelDir, outFile, fileType);
            if (pr.GetValue(GlobalOptions.Json))
                CliRunner.PrintJson(new JsonObject
                {
                    ["out"] = summary.Path,
                    ["architecture"] = summary.Architecture,
                    ["dtype"] = summary.Type.ToString().ToLowerInvariant(),
                    ["tensors"] = summary.Tensors,
                    ["bytes"] = summary.Bytes,
                    ["experts"] = summary.Experts,
                });
            else
                Console.WriteLine($"wrote {summary.Path}: {summary.Architecture}, {summary.Type.ToString().ToLowerInvariant()}, " +
                                  $"{summary.Experts} experts per layer, {summary.Tensors} tensors, {summary.Bytes / (double)(1 << 20):F1} MiB");
            return 0;
        });
        return cmd;
    }
}
