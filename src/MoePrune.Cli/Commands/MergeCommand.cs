using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Jobs;
using MoePrune.Merging;
using MoePrune.Merging.Merge;
using MoePrune.Models;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune merge [MODEL] --similarity cka|weights|surrogate|router|router-logits|output-mean (--groups N | --keep N |
/// --ratio R | --groups-map FILE) --merge uniform|frequency|max-frequency|learned [--preset NAME] [--drop-mtp] --out DIR [--force] [--gguf FILE]
/// [--layerwise] [--memory-budget SIZE]</c>: merges each sparse layer's experts into r groups and writes a standard Hugging Face
/// checkpoint with <c>merging.json</c> (docs/MERGING.md); a checkpoint beyond the memory budget is merged layer by layer (docs/LAYERWISE.md).
/// </summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var similarity = new Option<string?>("--similarity") { Description = $"Expert similarity: {string.Join(", ", SimilarityKinds.All)} (default cka)" };
        var merge = new Option<string?>("--merge") { Description = "Merge method: uniform, frequency, max-frequency or learned (default uniform)" };
        var preset = new Option<string?>("--preset") { Description = $"Similarity, grouping and merge of a published method: {string.Join(", ", MergePresets.All.Select(p => p.Name))}" };
        var groups = new Option<int?>("--groups") { Description = "Merged experts per layer, r (top-k <= r < experts)" };
        var keep = new Option<int?>("--keep") { Description = "Same as --groups" };
        var ratio = new Option<double?>("--ratio") { Description = "Fraction of each layer's experts merged away, in (0, 1)" };
        var groupsMap = new Option<string?>("--groups-map") { Description = "JSON: decoder-layer index -> groups of original expert indices" };
        var partition = new Option<string?>("--partition") { Description = "Grouping: auto (exact search when small, else hierarchical), exact, hierarchical or dominant" };
        var objective = new Option<string?>("--grouping-objective") { Description = "What the exact search maximises: average-within (default) or within-minus-between (the paper's wording)" };
        var tokens = new Option<int>("--similarity-tokens")
        {
            Description = "MoE inputs per layer kept for the data-centric similarities and the learned merge (the first ones of the pass)",
            DefaultValueFactory = _ => MergeSpec.DefaultSimilarityTokens,
        };
        var kernel = new Option<string?>("--cka-kernel") { Description = "CKA kernel: linear (default) or rbf (median-distance bandwidth)" };
        var surrogate = new Option<string?>("--surrogate") { Description = "Surrogate weight: down-gate-up (default, data-free) or mean-jacobian" };
        var mixup = new Option<int>("--mixup") { Description = "Extra mixed input rows per layer for cka/output-mean (0 = off)", DefaultValueFactory = _ => 0 };
        var learnedSteps = new Option<int>("--learned-steps")
        {
            Description = "Full-batch Adam steps of the learned merge (coefficients and scale fitted on 75% of the input sample)",
            DefaultValueFactory = _ => new LayerMergeOptions().LearnedSteps,
        };
        var nonUniform = new Option<bool>("--non-uniform") { Description = "Allow a groups map with different counts per layer (non-portable export)" };
        var dropMtp = new Option<bool>("--drop-mtp")
        {
            Description = "Remove the MTP layers (num_nextn_predict_layers 0) instead of pruning their experts to the merged count by weight norm",
        };
        var output = OutputOptions.Out("Output model folder");
        var force = OutputOptions.Force();
        var gguf = new Option<string?>("--gguf") { Description = "Also write this GGUF file for llama.cpp (uniform expert counts only)" };
        var calib = CalibrationOptions.Create();
        var layerwise = LayerwiseOptions.Create();
        var dtype = ModelOptions.Dtype($"Dtype the model is held, merged and written in: {ModelOptions.DtypeValues} (default: the checkpoint's)");
        var cmd = new Command("merge", "Merge similar experts and write a standard Hugging Face checkpoint with merging.json")
        {
            dir, similarity, merge, preset, groups, keep, ratio, groupsMap, partition, objective, tokens, kernel, surrogate, mixup, learnedSteps,
            nonUniform, dropMtp, output, force, gguf, dtype,
        };
        calib.AddTo(cmd, withInputSample: false);
        layerwise.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            bool json = pr.GetValue(GlobalOptions.Json);
            var names = CliOptionNames.Map;
            if (pr.GetValue(groups) is not null && pr.GetValue(keep) is not null)
                throw new MoePruneException("--groups and --keep are the same setting; give one");
            var spec = new MergeSpec
            {
                Preset = pr.GetValue(preset) is { } p ? MergePresets.Parse(p, "--preset") : null,
                Similarity = pr.GetValue(similarity) is { } s ? SimilarityKinds.Parse(s, "--similarity") : null,
                Merge = pr.GetValue(merge) is { } m ? MergeMethods.Parse(m, "--merge") : null,
                Partition = pr.GetValue(partition) is { } pa ? MergeChoices.ParsePartition(pa, "--partition") : null,
                Objective = pr.GetValue(objective) is { } o ? MergeChoices.ParseObjective(o, "--grouping-objective") : null,
                Kernel = pr.GetValue(kernel) is { } k ? MergeChoices.ParseKernel(k, "--cka-kernel") : Merging.Similarity.CkaKernel.Linear,
                Surrogate = pr.GetValue(surrogate) is { } sf ? MergeChoices.ParseSurrogate(sf, "--surrogate") : Merging.Similarity.SurrogateForm.DownGateUp,
                MixupRows = pr.GetValue(mixup),
                LearnedSteps = pr.GetValue(learnedSteps),
                Groups = pr.GetValue(groups) ?? pr.GetValue(keep),
                Ratio = pr.GetValue(ratio),
                GroupsMapFile = pr.GetValue(groupsMap),
                NonUniform = pr.GetValue(nonUniform),
                DropMtp = pr.GetValue(dropMtp),
                Calibration = calib.Bind(pr) with { InputSampleRows = pr.GetValue(tokens) },
                Names = pr.GetValue(keep) is not null ? names.With(OptionNames.Groups, "--keep") : names,
            };
            var request = new MergeRequest
            {
                ModelDir = pr.Model(dir),
                OutDir = pr.GetValue(output)!,
                Force = pr.GetValue(force),
                Spec = spec,
                GgufFile = pr.GetValue(gguf),
                Dtype = pr.DtypeValue(dtype),
                Execution = layerwise.Bind(pr),
            };
            var result = MergeJob.Run(request, StderrProgress.Calibration);
            var layers = result.Record["layers"]!.AsObject();
            if (json)
            {
                CliRunner.PrintJson(new JsonObject
                {
                    ["out"] = result.OutDir,
                    ["gguf"] = result.GgufFile,
                    ["merge"] = result.Record["merge"]!.DeepClone(),
                    ["layers"] = layers.DeepClone(),
                    ["layerwise"] = result.Layerwise is { } lw ? LayerwiseOptions.ToJson(lw) : null,
                });
                return 0;
            }
            foreach (var (layer, node) in layers)
            {
                var groupsText = node!["groups"]!.AsArray().Select(g => "{" + string.Join(",", g!.AsArray().Select(e => (int)e!)) + "}");
                Console.WriteLine($"layer {layer,3}: {(int)node["merged_experts"]!}/{(int)node["experts"]!} experts  {string.Join(" ", groupsText)}");
            }
            Console.WriteLine($"wrote {result.OutDir} ({MergeMethods.Name(spec.MergeMethod)} merge, merging.json inside)"
                              + (result.GgufFile is null ? "" : $" and {result.GgufFile}"));
            if (result.Layerwise is { } summary) Console.WriteLine(LayerwiseOptions.Describe(summary));
            return 0;
        });
        return cmd;
    }
}
