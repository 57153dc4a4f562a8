using System.Text.Json.Nodes;
using MoePrune.Models;
using MoePrune.Native;

namespace MoePrune.Tests.Jobs;

/// <summary>Tiny checkpoints, token files and the in-process CLI for the score/prune tests.</summary>
static class JobSupport
{
    public const int Vocab = 64;

    /// <summary>A 3-layer tiny checkpoint (hidden 32, 8 experts of 24, top-2, vocab 64); for qwen2_moe layer 0 is dense.</summary>
    public static string WriteModel(string dir, string family = "olmoe", int seed = 0, int experts = 8)
    {
        TorchNative.EnsureLoaded();
        var json = TinyCheckpoint.Config(family, hidden: 32, layers: 3, experts: experts, topK: 2, expertSize: 24, vocab: Vocab);
        if (family == "qwen2_moe") json["mlp_only_layers"] = new JsonArray(0);
        using var model = TinyCheckpoint.Random(json, seed);
        ModelLoader.Save(model, dir);
        return dir;
    }

    /// <summary>A tokens: file of <paramref name="docs"/> random documents with ids in [lo, hi).</summary>
    public static string WriteTokens(string path, int docs, int lo = 3, int hi = Vocab, int seed = 0)
    {
        var rng = new Random(seed);
        File.WriteAllLines(path, Enumerable.Range(0, docs)
            .Select(_ => string.Join(" ", Enumerable.Range(0, rng.Next(4, 30)).Select(_ => rng.Next(lo, hi)))));
        return path;
    }

    /// <summary>Runs the CLI in this process (output captured; callers join the Console collection) and returns its exit code.</summary>
    public static int Cli(params string[] args) => MoePrune.Tests.Cli.InProcessCli.Run(args).Code;

    /// <summary>Runs the CLI in this process; exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Err) CliOutput(params string[] args) => MoePrune.Tests.Cli.InProcessCli.Run(args);

    /// <summary>The non-empty lines of a captured stream.</summary>
    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>criterion → layer → values of a scores.json (overall values only).</summary>
    public static Dictionary<string, Dictionary<string, double[]>> Values(string scoresJson)
    {
        var criteria = JsonNode.Parse(File.ReadAllText(scoresJson))!["criteria"]!.AsObject();
        return criteria.ToDictionary(c => c.Key, c => c.Value!["layers"]!.AsObject()
            .ToDictionary(l => l.Key, l => l.Value!["values"]!.AsArray().Select(v => (double)v!).ToArray()));
    }
}
