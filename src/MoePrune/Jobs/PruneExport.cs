using System.Text.Json.Nodes;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Jobs;

/// <summary>
/// Writes the result of the last round as a standard Hugging Face checkpoint with <c>pruning.json</c> inside:
/// streamed from the round's parent with its plan when the pruned model was never built (no copy in memory),
/// else from the built model as it is (after any fine-tuning).
/// </summary>
public static class PruneExport
{
    public const string RecordFile = "pruning.json";

    public static void Write(RoundContext last, string outDir, string sourceDir, JsonObject record)
    {
        var extra = new Dictionary<string, JsonNode> { [RecordFile] = record };
        if (last.IsBuilt)
            WriteModel(last.Model, outDir, sourceDir, extra);
        else
            ExpertSurgery.Export(last.Parent, last.Plan, outDir, last.Spec.NonUniform, copyAuxFrom: sourceDir, extraFiles: extra);
    }

    /// <summary>Writes <paramref name="model"/> unchanged (its own expert counts, uniform or not).</summary>
    public static void WriteModel(MoeForCausalLM model, string outDir, string? copyAuxFrom, IReadOnlyDictionary<string, JsonNode>? extraFiles = null) =>
        ExpertSurgery.Export(model, ExpertPlan.Keep(new Dictionary<int, IReadOnlyList<int>>()), outDir, allowNonUniform: true,
                             copyAuxFrom: copyAuxFrom, extraFiles: extraFiles);

    /// <summary>
    /// Claims the output directory before any work (<see cref="IO.OutputPaths.Claim"/>): refused when it is a file,
    /// or exists and is not empty unless <paramref name="force"/>, or its folder is not writable.
    /// </summary>
    public static void CheckOutDir(string outDir, bool force = false, OptionNames? names = null) =>
        IO.OutputPaths.Claim(outDir, IO.OutputKind.Directory, force, names);
}
