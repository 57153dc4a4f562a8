using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Models;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune make-tiny FAMILY --out DIR [--n-group G] [--mtp] [--fp8] [--tokenizer MODEL]</c>: a small random-weight
/// checkpoint of a family, optionally with group-limited routing, an MTP layer, block-FP8 weights or a real tokenizer
/// (<see cref="TinyVariant"/>).
/// </summary>
public static class MakeTinyCommand
{
    public static Command Create()
    {
        var family = new Argument<string>("family") { Description = $"One of: {string.Join(", ", TinyCheckpoint.Families)}" };
        var output = OutputOptions.Out("Output model folder");
        var force = OutputOptions.Force();
        var seed = new Option<int>("--seed") { Description = "Seed of the random weights", DefaultValueFactory = _ => 0 };
        var dtype = ModelOptions.Dtype($"Dtype the weights are held and written in: {ModelOptions.DtypeValues} (default: f32; bf16 with --fp8)");
        var groups = new Option<int>("--n-group")
        {
            Description = "Expert groups of group-limited routing (n_group; topk_group is half): deepseek_v2, deepseek_v3, kimi_k2, glm4_moe",
            DefaultValueFactory = _ => 1,
        };
        var mtp = new Option<bool>("--mtp") { Description = "Add one MTP layer (num_nextn_predict_layers 1): deepseek_v3, kimi_k2, glm4_moe" };
        var fp8 = new Option<bool>("--fp8")
        {
            Description = $"Store the attention and MLP projection weights as block FP8 (F8_E4M3 + weight_scale_inv, {TinyVariant.Fp8Block}x{TinyVariant.Fp8Block} blocks)",
        };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Copy this model folder's tokenizer files and size the vocabulary to its tokenizer" };
        var cmd = new Command("make-tiny", "Write a tiny random checkpoint of a family (for trying the tools)")
        {
            family, output, force, seed, dtype, groups, mtp, fp8, tokenizer,
        };
        cmd.SetAction(pr =>
        {
            var variant = new TinyVariant
            {
                Groups = pr.GetValue(groups), MtpLayers = pr.GetValue(mtp) ? 1 : 0, Fp8 = pr.GetValue(fp8), TokenizerDir = pr.GetValue(tokenizer),
            };
            var dt = pr.DtypeValue(dtype) ?? (variant.Fp8 ? TorchSharp.torch.ScalarType.BFloat16 : TorchSharp.torch.ScalarType.Float32);
            if (variant.TokenizerDir is { } t && !Directory.Exists(t))
                throw new MoePruneException($"--tokenizer: {t} is not a model folder");
            var outDir = pr.GetValue(output)!;
            OutputOptions.Claim(outDir, IO.OutputKind.Directory, pr.GetValue(force));
            var config = TinyCheckpoint.Write(pr.GetValue(family)!, outDir, pr.GetValue(seed), dt, variant);
            if (pr.GetValue(GlobalOptions.Json))
                CliRunner.PrintJson(new JsonObject
                {
                    ["out"] = outDir, ["model_type"] = config.ModelType, ["dtype"] = DtypeNames.ToConfigName(dt),
                    ["n_group"] = config.Groups.NGroup, ["num_nextn_predict_layers"] = config.NumMtpLayers, ["fp8"] = config.Fp8 is not null,
                    ["vocab_size"] = config.VocabSize,
                });
            else
                Console.WriteLine($"wrote a tiny {config.ModelType} checkpoint to {outDir}");
            return 0;
        });
        return cmd;
    }
}
