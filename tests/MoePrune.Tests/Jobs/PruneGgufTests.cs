using System.Text.Json.Nodes;
using MoePrune.Models;
using MoePrune.Tests.Gguf;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Jobs;

/// <summary>
/// <c>prune --gguf</c>: the GGUF file written beside the pruned checkpoint is the file <c>export-gguf</c> writes from that
/// checkpoint, in memory and layer by layer; what GGUF cannot hold is refused before any work, writing nothing.
/// </summary>
[Collection(MoePrune.Tests.Cli.ConsoleCollection.Name)]
public class PruneGgufTests(ITestOutputHelper output)
{
    /// <summary>A tiny mixtral (llama.cpp-representable) with the trained tokenizer, and a calibration token file.</summary>
    static (string Model, string[] Calib) Mixtral(TempDir tmp)
    {
        string dir = tmp["model"];
        using (var model = TinyCheckpoint.Random(GgufTestModels.Config("mixtral"), seed: 9))
            ModelLoader.Save(model, dir);
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(GgufTestModels.TrainedTokenizerDir, f), Path.Combine(dir, f));
        var tokens = JobSupport.WriteTokens(tmp["calib.txt"], 30, hi: 998, seed: 2);
        return (dir, ["--calib", $"tokens:{tokens}", "--calib-sequences", "4", "--calib-seq-len", "16", "--no-eval"]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PruneGgufIsTheExportOfThePrunedCheckpoint(bool layerwise)
    {
        using var tmp = new TempDir();
        var (model, calib) = Mixtral(tmp);
        string outDir = tmp["pruned"], file = tmp["pruned.gguf"], reference = tmp["reference.gguf"];
        string[] mode = layerwise ? ["--layerwise"] : [];
        var (code, stdout, err) = JobSupport.CliOutput(["prune", model, "--criterion", "frequency", "--drop", "3", "--out", outDir,
                                                        "--gguf", file, "--json", .. calib, .. mode]);
        Assert.True(code == 0, err);
        var json = JsonNode.Parse(stdout)!;
        Assert.Equal(file, (string)json["gguf"]!);
        Assert.Equal(layerwise, json["layerwise"] is not null);
        using (var pruned = ModelLoader.Load(outDir))
            Assert.All(pruned.MoeLayers, v => Assert.Equal(5, v.NumExperts));
        Assert.Equal(0, JobSupport.Cli("export-gguf", outDir, "--out", reference));
        byte[] written = File.ReadAllBytes(file), expected = File.ReadAllBytes(reference);
        output.WriteLine($"{(layerwise ? "layer by layer" : "in memory")}: prune --gguf {written.Length} bytes, export-gguf {expected.Length} bytes");
        Assert.Equal(expected, written);

        var (_, human, _) = JobSupport.CliOutput(["prune", model, "--criterion", "frequency", "--drop", "3", "--out", outDir,
                                                  "--gguf", file, "--force", .. calib, .. mode]);
        Assert.Contains($"wrote {outDir} (", human);
        Assert.Contains($" and {file}", human);
        Assert.Equal(expected, File.ReadAllBytes(file));
    }

    [Fact]
    public void WhatGgufCannotHoldIsRefusedBeforeAnyWork()
    {
        using var tmp = new TempDir();
        var (model, calib) = Mixtral(tmp);
        string deepseek = tmp["deepseek"];
        Assert.Equal(0, JobSupport.Cli("make-tiny", "deepseek_v3", "--out", deepseek, "--json"));
        string uneven = tmp["uneven.json"];
        File.WriteAllText(uneven, """{"0": [0, 1, 2, 3, 4], "1": [0, 1, 2, 3, 4, 5]}""");
        var cases = new (string Name, string Expect, string[] Args)[]
        {
            ("global budget", "--gguf: --global lets layers keep different expert counts", [model, "--criterion", "frequency", "--drop", "2", "--global", .. calib]),
            ("uneven keep-map", $"{uneven}: cannot export to GGUF (llama): expert counts differ per layer", [model, "--keep-map", uneven, "--no-eval"]),
            ("unsupported family", "model_type deepseek_v3 has no llama.cpp architecture", [deepseek, "--criterion", "frequency", "--drop", "2", .. calib]),
            ("strategy rounds", "--gguf: only a one-shot prune writes a GGUF file", [model, "--criterion", "frequency", "--drop", "2", "--strategy", "iterative", .. calib]),
            ("gguf folder missing", $"{tmp["no/x.gguf"]}: the folder", [model, "--criterion", "frequency", "--drop", "2", .. calib]),
        };
        foreach (var (name, expect, args) in cases)
        {
            string outDir = tmp["out-" + name.Replace(' ', '-')];
            string file = name == "gguf folder missing" ? tmp["no/x.gguf"] : tmp[name.Replace(' ', '-') + ".gguf"];
            var (code, _, err) = JobSupport.CliOutput(["prune", .. args, "--out", outDir, "--gguf", file]);
            output.WriteLine($"{name}: exit {code}: {err.Trim()}");
            Assert.True(code == 1, $"{name}: exit code {code}");
            var line = Assert.Single(JobSupport.Lines(err));
            Assert.StartsWith("error: ", line);
            Assert.Contains(expect, line);
            Assert.False(Directory.Exists(outDir), $"{name}: output directory was created");
            Assert.False(File.Exists(file), $"{name}: GGUF file was written");
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path, ".*"));                     // no temporary files left
    }
}
