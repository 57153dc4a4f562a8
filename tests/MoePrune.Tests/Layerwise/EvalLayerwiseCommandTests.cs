using System.Text.Json.Nodes;
using MoePrune.Jobs;
using MoePrune.Models;
using MoePrune.Tests.Cli;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Layerwise;

/// <summary>
/// <c>eval --layerwise</c> / <c>--memory-budget</c> on the shipped default model: the same JSON as in memory (a built-in
/// and a file multiple-choice task, the KL gate of a pruned copy against the default model), chosen by the budget when
/// the model and its reference do not fit together; generative tasks and a bad budget refused in one line.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class EvalLayerwiseCommandTests(ITestOutputHelper output)
{
    const string Mc = """{"id": "m1", "context": "The cat sat on the", "choices": ["mat", "idea"], "gold": 0}""";
    const string Mc2 = """{"id": "m2", "context": "Water is", "choices": ["wet", "a colour", "green"], "gold": 0}""";
    const string Gen = """{"id": "g1", "context": "Which letter?\n", "answers": ["B"], "extract": "letter", "stop": ["\n"], "max_new_tokens": 3, "target_delimiter": ""}""";

    [Fact]
    public void LayerByLayerJsonEqualsTheInMemoryJson()
    {
        using var tmp = new TempDir();
        string parent = DefaultModelFiles.Directory();
        File.WriteAllLines(tmp["mc.jsonl"], [Mc, Mc2, Mc.Replace("m1", "m3").Replace("cat", "dog")]);
        File.WriteAllText(tmp["text.txt"], string.Join(" ", Enumerable.Repeat("The old man walked slowly to the market and bought bread.", 30)));
        string model = Pruned(parent, tmp);
        JsonObject Eval(params string[] extra)
        {
            var (code, stdout, stderr) = InProcessCli.Run(["eval", model, "--tasks", $"genre,{tmp["mc.jsonl"]}", "--limit", "6", "--batch-size", "2",
                "--reference", parent, "--text-file", tmp["text.txt"], "--seq-len", "48", "--json", .. extra]);
            output.WriteLine(stderr);
            Assert.Equal(0, code);
            return JsonNode.Parse(stdout)!.AsObject();
        }
        var memory = Eval();
        var forced = Eval("--layerwise", "--out", tmp["results.json"]);
        Assert.True(JsonNode.DeepEquals(forced, JsonNode.Parse(File.ReadAllText(tmp["results.json"]))), "results.json holds what --json prints, layerwise included");
        var budget = Eval("--memory-budget", "40M");                                         // each model fits, the two together do not
        Assert.False(memory.ContainsKey("layerwise"));
        Assert.Equal("--layerwise given", forced["layerwise"]!["reason"]!.GetValue<string>());
        Assert.StartsWith("the model and its reference need", budget["layerwise"]!["reason"]!.GetValue<string>());
        Assert.True(memory["kl"]!["mean"]!.GetValue<double>() > 1e-6, "the pruned model differs from its parent");
        foreach (var run in new[] { forced, budget })
        {
            run.Remove("layerwise");
            double max = MaxDifference(memory, run, "");
            output.WriteLine($"max difference {max:E3}");
            Assert.True(max <= 1e-6, $"max difference {max:E2}");
        }
    }

    [Fact]
    public void GenerativeTasksAndBadBudgetsAreRefusedBeforeAnyWork()
    {
        using var tmp = new TempDir();
        File.WriteAllLines(tmp["mc.jsonl"], [Mc]);
        File.WriteAllLines(tmp["gen.jsonl"], [Gen]);
        string model = DefaultModelFiles.Directory();
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["--layerwise"], "tasks genre_gen, gen: generative tasks cannot run layer by layer (every generated token needs every layer)"),
            (["--memory-budget", "20M"], "tasks genre_gen, gen: generative tasks cannot run layer by layer"),   // 27 MB: layer by layer
            (["--memory-budget", "lots"], "--memory-budget lots:"),
            (["--memory-budget", "1K"], "--memory-budget 1.0 kB: smaller than the largest part of"),
        })
        {
            var run = InProcessCli.Run(["eval", model, "--tasks", $"{tmp["mc.jsonl"]},genre_gen,{tmp["gen.jsonl"]}", "--limit", "1",
                                        "--out", tmp["r.json"], .. args]);
            Refusal.Assert1(run, expected, output, tmp["r.json"]);
        }
    }

    /// <summary>Pairs every number of two JSON trees (task timings left out) and returns the largest relative difference; other values must be equal.</summary>
    static double MaxDifference(JsonNode? a, JsonNode? b, string path)
    {
        switch (a)
        {
            case JsonObject o:
                var p = Assert.IsType<JsonObject>(b);
                Assert.Equal(o.Select(kv => kv.Key).Where(k => k != "seconds"), p.Select(kv => kv.Key).Where(k => k != "seconds"));
                return o.Where(kv => kv.Key != "seconds").Select(kv => MaxDifference(kv.Value, p[kv.Key], $"{path}.{kv.Key}")).DefaultIfEmpty(0).Max();
            case JsonArray arr:
                var q = Assert.IsType<JsonArray>(b);
                Assert.Equal(arr.Count, q.Count);
                return arr.Select((x, i) => MaxDifference(x, q[i], $"{path}[{i}]")).DefaultIfEmpty(0).Max();
            case JsonValue v when v.TryGetValue<double>(out double x):
                double y = b!.GetValue<double>();
                double d = LayerwiseSupport.Rel(x, y);
                Assert.True(d <= 1e-6, $"{path}: {x} vs {y}");
                return d;
            default:
                Assert.Equal(a?.ToJsonString(), b?.ToJsonString());
                return 0;
        }
    }

    /// <summary>The default model with one expert of each layer removed by <c>prune</c>'s keep-map path.</summary>
    static string Pruned(string dir, TempDir tmp)
    {
        var config = MoeConfig.Load(Path.Combine(dir, "config.json"));
        var keep = config.MoeLayerIndices.ToDictionary(l => l.ToString(), l => Enumerable.Range(0, config.ExpertsInLayer(l)).Where(e => e != l).ToArray());
        File.WriteAllText(tmp["keep.json"], System.Text.Json.JsonSerializer.Serialize(keep));
        PruneJob.Run(new PruneRequest { ModelDir = dir, OutDir = tmp["pruned"], KeepMapFile = tmp["keep.json"] });
        return tmp["pruned"];
    }
}
