using System.Text.Json.Nodes;
using MoePrune.IO.Gguf;
using MoePrune.Models;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Gguf;

/// <summary>
/// GGUF exports checked by llama.cpp itself: for every family, a full, a pruned and a merged f32 export are loaded by
/// llama.cpp (node-llama-cpp 3.21.1), which computes the next-token distribution after every position of a
/// random id sequence; MoePrune computes the same from the in-memory model. Per-position NLL must agree within
/// 1e-3 absolute and the mean NLL within 1e-4 relative.
/// </summary>
public class LlamaCppAgreementTests(ITestOutputHelper output)
{
    const int Positions = 40;

    [LlamaCppFact]
    public void MixtralFullAndPrunedMatchLlamaCpp() => Check("mixtral");

    [LlamaCppFact]
    public void Qwen2MoeFullAndPrunedMatchLlamaCpp() => Check("qwen2_moe");

    [LlamaCppFact]
    public void Qwen3MoeFullAndPrunedMatchLlamaCpp() => Check("qwen3_moe");

    [LlamaCppFact]
    public void OlmoeGqaFullAndPrunedMatchLlamaCpp() => Check("olmoe");

    /// <summary>
    /// Stored checkpoints exported straight from disk (<see cref="GgufExporter.ExportCheckpoint"/>): Mixtral, and
    /// Qwen3-MoE in the transformers-v5 fused expert layout with head_dim 12 ≠ hidden/heads (attention.key_length).
    /// </summary>
    [LlamaCppFact]
    public void FixtureCheckpointsExportedFromDiskMatchLlamaCpp()
    {
        foreach (var fixture in new[] { "mixtral_fp32", "qwen3_moe_rope_parameters_fused" })
        {
            using var temp = new TempDir();
            string dir = GgufRefusalTests.CopyWithTokenizer(Models.ModelFixtures.Dir(fixture), temp, 96);
            string file = temp["model.gguf"];
            GgufExporter.ExportCheckpoint(dir, file);
            using var model = ModelLoader.Load(dir);
            var ids = GgufTestModels.Ids(Positions, 96, seed: 3);
            var result = LlamaCppHarness.Run(new JsonObject { ["model"] = file, ["logprobs"] = new JsonArray(Json(ids)) }, temp.Path);
            Compare($"{fixture} (from disk)", GgufTestModels.LogProbs(model, ids), LlamaCppHarness.Probabilities(result, 0), ids);
        }
    }

    /// <summary>
    /// <c>merge --gguf</c>: the GGUF written beside a merged checkpoint (CKA similarity, frequency merge: coefficients
    /// that are not uniform) computes what the merged Hugging Face checkpoint computes when MoePrune loads it.
    /// </summary>
    [LlamaCppFact]
    public void MergeCommandGgufMatchesItsCheckpointInLlamaCpp()
    {
        using var temp = new TempDir();
        string modelDir = temp["model"];
        using (var model = TinyCheckpoint.Random(GgufTestModels.Config("mixtral"), seed: 5))
            ModelLoader.Save(model, modelDir);
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(GgufTestModels.TrainedTokenizerDir, f), Path.Combine(modelDir, f));
        var calibration = GgufTestModels.Ids(200, 998, seed: 4);
        File.WriteAllText(temp["calib.txt"], string.Join("\n", calibration.Chunk(20).Select(c => string.Join(" ", c))));
        var spec = new MoePrune.Jobs.MergeSpec
        {
            Similarity = MoePrune.Merging.SimilarityKind.Cka, Merge = MoePrune.Merging.Merge.MergeMethod.Frequency, Groups = 5,
            Calibration = new MoePrune.Jobs.CalibrationSettings { Spec = $"tokens:{temp["calib.txt"]}", Sequences = 8, Length = 20 },
        };
        string file = temp["merged.gguf"];
        MoePrune.Jobs.MergeJob.Run(new MoePrune.Jobs.MergeRequest { ModelDir = modelDir, OutDir = temp["merged"], Spec = spec, GgufFile = file });
        using var merged = ModelLoader.Load(temp["merged"]);
        Assert.All(merged.MoeLayers, v => Assert.Equal(5, v.NumExperts));
        var ids = GgufTestModels.Ids(Positions, 998, seed: 12);
        var result = LlamaCppHarness.Run(new JsonObject { ["model"] = file, ["logprobs"] = new JsonArray(Json(ids)) }, temp.Path);
        Compare("mixtral merge --gguf", GgufTestModels.LogProbs(merged, ids), LlamaCppHarness.Probabilities(result, 0), ids);
    }

    /// <summary>The shipped default model on real text: its f32 export computes what MoePrune computes.</summary>
    [LlamaCppFact]
    public void DefaultModelOnTextMatchesLlamaCpp()
    {
        using var temp = new TempDir();
        string dir = DefaultModelFiles.Directory();
        string file = temp["default.gguf"];
        GgufExporter.ExportCheckpoint(dir, file, GgufFloatType.F32);
        using var model = ModelLoader.Load(dir);
        var text = string.Join(" ", Tokenization.GoldenTokenizers.Strings().Skip(1).Take(12));
        var ids = MoePrune.Tokenization.HfTokenizer.Load(dir).Encode(text, false).Select(i => (long)i).Take(128).ToArray();
        var result = LlamaCppHarness.Run(new JsonObject { ["model"] = file, ["logprobs"] = new JsonArray(Json(ids)) }, temp.Path);
        Compare($"models/default ({ids.Length} tokens of text)", GgufTestModels.LogProbs(model, ids), LlamaCppHarness.Probabilities(result, 0), ids);
    }

    static JsonArray Json(long[] ids) => new(ids.Select(i => (JsonNode)i).ToArray());

    void Check(string modelType)
    {
        using var temp = new TempDir();
        string tokenizer = GgufTestModels.TokenizerDir(temp);
        using var model = TinyCheckpoint.Random(GgufTestModels.Config(modelType), seed: 7);
        using var pruned = GgufTestModels.Pruned(model);
        using var mergeRound = GgufTestModels.Merged(model, temp);
        var merged = mergeRound.Model;
        var ids = GgufTestModels.Ids(Positions, 998, seed: 11);
        foreach (var (label, m) in new[] { ("full", model), ("pruned", pruned), ("merged", merged) })
        {
            string file = temp[$"{modelType}-{label}.gguf"];
            GgufExporter.Export(m, tokenizer, file, GgufFloatType.F32);
            var result = LlamaCppHarness.Run(new JsonObject
            {
                ["model"] = file,
                ["logprobs"] = new JsonArray(Json(ids)),
            }, temp.Path);
            Compare($"{modelType} {label} (llama.cpp {result["llamaCpp"]})", GgufTestModels.LogProbs(m, ids),
                    LlamaCppHarness.Probabilities(result, 0), ids);
        }
    }

    /// <summary>Per-position NLL of the next id and the whole distribution (reported), MoePrune vs llama.cpp.</summary>
    internal void Compare(string label, double[,] ours, float[,] theirs, long[] ids)
    {
        int t = ids.Length - 1, v = ours.GetLength(1);
        Assert.Equal(v, theirs.GetLength(1));
        double sumOurs = 0, sumTheirs = 0, maxPos = 0, maxDist = 0;
        for (int i = 0; i < t; i++)
        {
            double a = -ours[i, ids[i + 1]], b = -Math.Log(theirs[i, ids[i + 1]]);
            sumOurs += a;
            sumTheirs += b;
            maxPos = Math.Max(maxPos, Math.Abs(a - b));
            for (int j = 0; j < v; j++)
                if (theirs[i, j] > 1e-6) maxDist = Math.Max(maxDist, Math.Abs(ours[i, j] - Math.Log(theirs[i, j])));
        }
        double meanOurs = sumOurs / t, meanTheirs = sumTheirs / t, rel = Math.Abs(meanOurs - meanTheirs) / meanOurs;
        output.WriteLine($"{label}: mean NLL MoePrune {meanOurs:F6} llama.cpp {meanTheirs:F6} (rel diff {rel:E2}); " +
                         $"max |ΔNLL| per position {maxPos:E2}; max |Δ log p| over tokens with p > 1e-6 {maxDist:E2}");
        Assert.True(maxPos <= 1e-3, $"{label}: a position's NLL differs by {maxPos:E3} > 1e-3");
        Assert.True(rel <= 1e-4, $"{label}: mean NLL differs by {rel:E3} relative > 1e-4");
    }
}
