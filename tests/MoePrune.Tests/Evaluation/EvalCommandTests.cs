using System.Text.Json.Nodes;
using MoePrune.Models;
using MoePrune.Tests.Cli;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Evaluation;

/// <summary><c>eval</c> end to end on the shipped default model: outputs, refusals (nothing written), the KL gate.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class EvalCommandTests(ITestOutputHelper output)
{
    const string Mc = """{"id": "m1", "context": "The cat sat on the", "choices": ["mat", "idea"], "gold": 0}""";
    const string Mc2 = """{"id": "m2", "context": "Water is", "choices": ["wet", "a colour", "green"], "gold": 0}""";
    const string Gen = """{"id": "g1", "context": "### Question:\nWhich letter?\nA. a\nB. b\nC. c\nD. d\n### Answer:\n", "answers": ["B"], "extract": "letter", "stop": ["\n"], "max_new_tokens": 3, "target_delimiter": ""}""";

    [Fact]
    public void WritesResultsSamplesAndMarkdown()
    {
        using var tmp = new TempDir();
        File.WriteAllLines(tmp["mc.jsonl"], [Mc, Mc2, Mc.Replace("m1", "m3")]);
        File.WriteAllLines(tmp["gen.jsonl"], [Gen, Gen.Replace("g1", "g2").Replace("Which letter?", "Which letter now?")]);
        var (code, stdout, stderr) = InProcessCli.Run("eval", DefaultModelFiles.Directory(), "--tasks", $"{tmp["mc.jsonl"]},{tmp["gen.jsonl"]}",
            "--shots", "1", "--limit", "2", "--out", tmp["results.json"], "--samples", tmp["samples.jsonl"], "--markdown", tmp["table.md"], "--json");
        output.WriteLine(stderr);
        Assert.Equal(0, code);
        var printed = JsonNode.Parse(stdout)!.AsObject();
        var written = JsonNode.Parse(File.ReadAllText(tmp["results.json"]))!.AsObject();
        Assert.Equal(printed.ToJsonString(), written.ToJsonString());
        var mc = written["tasks"]!["mc"]!.AsObject();
        Assert.Equal(("multiple_choice", 2, 1), (mc["type"]!.GetValue<string>(), mc["n"]!.GetValue<int>(), mc["shots"]!.GetValue<int>()));
        Assert.True(mc.ContainsKey("acc") && mc.ContainsKey("acc_stderr") && mc.ContainsKey("acc_norm") && !mc.ContainsKey("format_rate"));
        var gen = written["tasks"]!["gen"]!.AsObject();
        Assert.Equal("generate", gen["type"]!.GetValue<string>());
        Assert.True(gen.ContainsKey("accuracy") && gen.ContainsKey("format_rate") && !gen.ContainsKey("acc"));
        Assert.False(written.ContainsKey("kl"));

        var samples = File.ReadAllLines(tmp["samples.jsonl"]).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(4, samples.Count);
        Assert.Equal(2, samples[0]["loglikelihoods"]!.AsArray().Count);
        Assert.All(samples.Take(2), s => Assert.True(s.ContainsKey("pred") && s.ContainsKey("gold")));
        Assert.All(samples.Skip(2), s => Assert.True(s.ContainsKey("generation") && s.ContainsKey("extracted") && s.ContainsKey("correct") && s.ContainsKey("format_ok")));
        Assert.Contains("| mc | multiple_choice | 2 | 1 |", File.ReadAllText(tmp["table.md"]));
    }

    [Theory]
    [InlineData("bad-json", "bad.jsonl:2: not valid JSON")]
    [InlineData("bad-gold", "bad.jsonl:2: gold 5 is out of range for 2 choices (0..1)")]
    [InlineData("too-many-shots", "bad.jsonl:1: 5 demonstrations asked for but task bad has only 1 for this document (other documents)")]
    [InlineData("unknown-task", "--tasks: unknown task 'nope'")]
    public void BadInputExitsOneWithOneLineAndWritesNothing(string kind, string expected)
    {
        using var tmp = new TempDir();
        File.WriteAllLines(tmp["bad.jsonl"], kind switch
        {
            "bad-json" => [Mc, "{\"context\": "],
            "bad-gold" => [Mc, Mc.Replace("m1", "m2").Replace("\"gold\": 0", "\"gold\": 5")],
            _ => [Mc, Mc.Replace("m1", "m2").Replace("The cat", "A dog")],
        });
        string tasks = kind == "unknown-task" ? "nope" : tmp["bad.jsonl"];
        var args = new List<string> { "eval", DefaultModelFiles.Directory(), "--tasks", tasks, "--out", tmp["r.json"], "--samples", tmp["s.jsonl"] };
        if (kind == "too-many-shots") args.AddRange(["--shots", "5"]);
        var (code, stdout, stderr) = InProcessCli.Run([.. args]);
        output.WriteLine(stderr);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {(kind == "unknown-task" ? expected : tmp.Path + "/" + expected)}", stderr.Trim());
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Equal("", stdout);
        Assert.False(File.Exists(tmp["r.json"]) || File.Exists(tmp["s.jsonl"]));
    }

    [Fact]
    public void TheKlGateOfAModelAgainstItselfIsZero()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp["text.txt"], string.Join(" ", Enumerable.Repeat("The old man walked slowly to the market and bought bread.", 20)));
        var (code, stdout, stderr) = InProcessCli.Run("eval", DefaultModelFiles.Directory(), "--reference", DefaultModelFiles.Directory(),
            "--text-file", tmp["text.txt"], "--seq-len", "64", "--limit", "2", "--json");
        output.WriteLine(stderr + stdout);
        Assert.Equal(0, code);
        var kl = JsonNode.Parse(stdout)!["kl"]!.AsObject();
        Assert.True(Math.Abs(kl["mean"]!.GetValue<double>()) < 1e-7);
        Assert.Equal(1.0, kl["top1_agreement"]!.GetValue<double>());
        Assert.Equal(2 * 63, kl["positions"]!.GetValue<long>());
        Assert.Equal(kl["perplexity"]!.GetValue<double>(), kl["reference_perplexity"]!.GetValue<double>());
        Assert.False(JsonNode.Parse(stdout)!.AsObject().ContainsKey("tasks"));
    }

    [Fact]
    public void AReferenceWithAnotherVocabularyIsRefused()
    {
        using var tmp = new TempDir();
        TinyCheckpoint.Write("mixtral", tmp["tiny"]);
        File.WriteAllText(tmp["text.txt"], "Some text to compare the two models on.");
        var (code, _, stderr) = InProcessCli.Run("eval", DefaultModelFiles.Directory(), "--reference", tmp["tiny"], "--text-file", tmp["text.txt"],
            "--out", tmp["r.json"]);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: --reference {tmp["tiny"]}: its vocabulary has 256 tokens", stderr.Trim());
        Assert.False(File.Exists(tmp["r.json"]));
    }
}
