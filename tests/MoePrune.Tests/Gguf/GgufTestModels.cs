using System.Text.Json.Nodes;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Tests.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Tests.Gguf;

/// <summary>Tiny models of every family with a real tokenizer beside them, and MoePrune's own next-token NLL for comparison.</summary>
static class GgufTestModels
{
    public static readonly string TrainedTokenizerDir = Path.Combine(AppContext.BaseDirectory, "fixtures", "tokenizers", "trained");

    /// <summary>
    /// A tiny random config of <paramref name="modelType"/> that llama.cpp can represent: vocab 1024 (the 998-token
    /// trained tokenizer padded), Qwen3 with norm_topk_prob (its graph always renormalises), OLMoE with 2 KV heads
    /// for 4 heads (exercising the GQA rewrite), Qwen2-MoE with its q/k/v biases and shared expert.
    /// </summary>
    public static JsonObject Config(string modelType)
    {
        var json = TinyCheckpoint.Config(modelType, hidden: 64, layers: 2, experts: 8, topK: 2, expertSize: 48, vocab: 1024);
        if (modelType == "qwen3_moe") json["norm_topk_prob"] = true;
        return json;
    }

    /// <summary>Copies the trained tokenizer's files into <paramref name="dir"/> (as a model directory would hold them).</summary>
    public static string TokenizerDir(TempDir temp)
    {
        string dir = temp["tokenizer"];
        Directory.CreateDirectory(dir);
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(TrainedTokenizerDir, f), Path.Combine(dir, f));
        return dir;
    }

    /// <summary>Drops 3 of 8 experts per layer, different ones in each layer.</summary>
    public static MoeForCausalLM Pruned(MoeForCausalLM model) =>
        ExpertSurgery.Apply(model, ExpertPlan.Keep(new Dictionary<int, IReadOnlyList<int>>
        {
            [0] = [0, 2, 3, 5, 7],
            [1] = [1, 2, 4, 6, 7],
        }));

    /// <summary>
    /// A merge round on <paramref name="model"/> (the caller disposes it; its <c>Model</c> is the merged model): 8 experts
    /// into 5 groups of different sizes per layer, uniform averages of experts and router rows.
    /// </summary>
    public static MoePrune.Jobs.RoundContext Merged(MoeForCausalLM model, TempDir temp)
    {
        string map = temp["groups.json"];
        File.WriteAllText(map, """{"0": [[0, 3], [1], [2, 5, 6], [4], [7]], "1": [[0], [1, 2], [3, 7], [4, 6], [5]]}""");
        var spec = new MoePrune.Jobs.MergeSpec { GroupsMapFile = map };
        return MoePrune.Jobs.MergeRound.Run(new MoePrune.Jobs.RoundInput(1, model, MoePrune.Jobs.ExpertLineage.Identity(model.MoeLayers), temp.Path), spec);
    }

    /// <summary>Seeded random ids below <paramref name="limit"/>.</summary>
    public static long[] Ids(int count, int limit, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (long)rng.Next(limit)).ToArray();
    }

    /// <summary>MoePrune's log-probabilities [T, V] (float64) for ids (1, T).</summary>
    public static double[,] LogProbs(MoeForCausalLM model, long[] ids)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.Logits(tensor(ids).unsqueeze(0));                                   // (1, T, V)
        var logp = logits[0].to(ScalarType.Float64).log_softmax(-1);                           // (T, V)
        int t = (int)logp.shape[0], v = (int)logp.shape[1];
        var values = logp.data<double>().ToArray();
        var result = new double[t, v];
        Buffer.BlockCopy(values, 0, result, 0, values.Length * sizeof(double));
        return result;
    }
}
