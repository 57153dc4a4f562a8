using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.IO.Gguf;

namespace MoePrune.Cli.Commands;

/// <summary><c>moeprune export-gguf [MODEL_DIR] --out model.gguf [--type f32|f16|bf16]</c>: a GGUF file for llama.cpp.</summary>
public static class ExportGgufCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDirOrDefault();
        var output = new Option<string>("--out") { Description = "Output GGUF file", Required = true };
        var type = new Option<string?>("--type") { Description = "Matrix type: f32, f16 or bf16 (default: the checkpoint's dtype); norms and routers stay f32" };
        var cmd = new Command("export-gguf", "Write a checkpoint as a GGUF file for llama.cpp, tokenizer embedded (refuses what llama.cpp would compute differently)")
        {
            dir, output, type,
        };
        cmd.SetAction(pr =>
        {
            string? typeText = pr.GetValue(type);
            GgufFloatType? fileType = typeText is null ? null
                : GgufTypes.Parse(typeText) ?? throw new MoePruneException($"--type {typeText}: expected f32, f16 or bf16");
            var summary = GgufExporter.ExportCheckpoint(pr.GetValue(dir)!, pr.GetValue(output)!, fileType);
            if (pr.GetValue(GlobalOptions.Json))
                CliRunner.PrintJson(new JsonObject
                {
                    ["out"] = summary.Path,
                    ["architecture"] = summary.Architecture,
                    ["type"] = summary.Type.ToString().ToLowerInvariant(),
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
