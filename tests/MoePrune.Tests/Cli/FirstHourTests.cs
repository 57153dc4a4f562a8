using System.Text.Json.Nodes;
using MoePrune.Tests.IO;
using MoePrune.Tests.Jobs;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Cli;

/// <summary>
/// Issue 17, items 3–5: each case a new user met, reproduced on a tiny model. Every refusal is exit 1, one stderr
/// line naming the right file or option, nothing on stdout, nothing written (<see cref="Refusal"/>). Item 2
/// (statistics of another model) is <see cref="StatisticsGuardTests"/>; item 1 is <see cref="OutputLocationTests"/>.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class FirstHourTests(ITestOutputHelper output)
{
    static string[] Calib(string tokens) => ["--calib", $"tokens:{tokens}", "--calib-sequences", "4", "--calib-seq-len", "12"];

    [Fact]
    public void MistypedOptionsAreNamedWithTheClosestKnownOne()
    {
        using var tmp = new TempDir();
        Refusal.Assert1(JobSupport.CliOutput("info", "--bogus"), "moeprune info: unknown option --bogus (see moeprune info --help)", output);
        Refusal.Assert1(JobSupport.CliOutput("prune", "--criterion", "min-ean", "--drop", "1", "--out", tmp["p"], "--calib-seq", "8"),
            "moeprune prune: unknown option --calib-seq (did you mean --calib-seq-len?)", output, tmp["p"]);
        Refusal.Assert1(JobSupport.CliOutput("--json", "prune", "--criterion", "min-ean", "--drop", "1", "--out", tmp["p"], "--calib-seqs=8"),
            "moeprune prune: unknown option --calib-seqs (did you mean --calib-sequences?)", output, tmp["p"]);
        Refusal.Assert1(JobSupport.CliOutput("score", "--json", "--out", tmp["s.json"], "--dtpye", "bf16"),
            "moeprune score: unknown option --dtpye (did you mean --dtype?)", output, tmp["s.json"]);
        Refusal.Assert1(JobSupport.CliOutput("prune", "--drop", "two", "--out", tmp["p"], "--json"), "--drop: 'two' is not a whole number", output, tmp["p"]);
        Refusal.Assert1(JobSupport.CliOutput("make-tiny", "mixtral", "--json"), "moeprune make-tiny: --out is required", output);
        Refusal.Assert1(JobSupport.CliOutput("bench"), "moeprune bench: give a command: forward, observers, load, make-checkpoint", output);
        Refusal.Assert1(JobSupport.CliOutput("info", "a", "b"), "moeprune info: unexpected argument 'b'", output);
        Refusal.Assert1(JobSupport.CliOutput("--threads", "0", "native"), "--threads: 0 must be at least 1", output);
    }

    [Fact]
    public void HelpSaysMoepruneAndListsEveryCriterion()
    {
        var help = JobSupport.CliOutput("prune", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("moeprune prune [<model>] [options]", help.Out);
        Assert.DoesNotContain("MoePrune.Cli", help.Out);
        foreach (var name in Enum.GetValues<MoePrune.Criteria.CriterionKind>().Select(MoePrune.Criteria.CriterionInfo.Name))
            Assert.Contains(name, help.Out);
        Assert.Contains("⌊E·ratio⌋", help.Out);
        Assert.Contains("all,naee", JobSupport.CliOutput("score", "--help").Out);
    }

    [Fact]
    public void SelectionsThatRemoveNothingAreRefusedUnlessAskedFor()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["a.txt"], 30);
        Refusal.Assert1(JobSupport.CliOutput(["prune", model, "--criterion", "min-ean", "--ratio", "0.1", "--out", tmp["p"], .. Calib(tokens)]),
            "--ratio: 0.1 removes no expert of 8 (⌊8 × 0.1⌋ = 0); give at least 0.125 or --drop N", output, tmp["p"]);
        Refusal.Assert1(JobSupport.CliOutput(["prune", model, "--criterion", "min-ean", "--ratio", "0", "--out", tmp["p"], .. Calib(tokens)]),
            "--ratio: 0 must be in (0, 1) (--drop 0 keeps every expert)", output, tmp["p"]);
        var copy = JobSupport.CliOutput(["prune", model, "--criterion", "min-ean", "--drop", "0", "--no-eval", "--out", tmp["p"], "--json", .. Calib(tokens)]);
        Assert.True(copy.Code == 0, copy.Err);
        var ratio = JobSupport.CliOutput(["prune", model, "--criterion", "min-ean", "--ratio", "0.125", "--no-eval", "--out", tmp["q"], "--json", .. Calib(tokens)]);
        Assert.True(ratio.Code == 0, ratio.Err);
        Assert.All(JsonNode.Parse(ratio.Out)!["layers"]!.AsObject(), l => Assert.Single(l.Value!["removed"]!.AsArray()));
    }

    [Fact]
    public void GlobalSelectionSaysAtWriteTimeThatStockLoadersCannotReadIt()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["a.txt"], 30);
        var run = JobSupport.CliOutput(["prune", model, "--criterion", "random", "--drop", "3", "--global", "--no-eval", "--out", tmp["g"], "--json", .. Calib(tokens)]);
        output.WriteLine(run.Err);
        Assert.True(run.Code == 0, run.Err);
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["g"], "pruning.json")))!;
        var counts = record["layers"]!.AsObject().Select(l => l.Value!["kept"]!.AsArray().Count).Distinct().Count();
        Assert.Equal(counts == 1, (bool)record["portable"]!);
        if (counts > 1)
        {
            Assert.Contains("stock transformers cannot load", (string)record["portable_note"]!);
            Assert.StartsWith($"note: {tmp["g"]}: expert counts differ", Assert.Single(JobSupport.Lines(run.Err)));
        }
        var uniform = JobSupport.CliOutput(["prune", model, "--criterion", "min-ean", "--drop", "3", "--no-eval", "--out", tmp["u"], .. Calib(tokens)]);
        Assert.True(uniform.Code == 0, uniform.Err);
        Assert.True((bool)JsonNode.Parse(File.ReadAllText(Path.Combine(tmp["u"], "pruning.json")))!["portable"]!);
        Assert.Empty(JobSupport.Lines(uniform.Err));
    }

    [Fact]
    public void KeepMapErrorsNameTheKeepMapAndItsKey()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        void Map(string name, string json) => File.WriteAllText(tmp[name], json);
        Map("nine.json", """{"1": [0, 1, 2, 9]}""");
        Map("uneven.json", """{"0": [0, 1, 2], "1": [0, 1, 2, 3], "2": [0, 1, 2, 3]}""");
        Map("garbage.json", """{"0": [0, 1, 2""");
        Map("twice.json", """{"0": [0, 1, 1]}""");
        Map("few.json", """{"2": [5]}""");
        Map("dense.json", """{"7": [0, 1]}""");
        var cases = new (string File, string Expected)[]
        {
            ("nine.json", $"{tmp["nine.json"]}: key \"1\": expert 9 is outside the layer's experts 0..7"),
            ("uneven.json", $"{tmp["uneven.json"]}: layers keep different numbers of experts (layer 0: 3, layer 1: 4, layer 2: 4), which stock transformers cannot load; give --global"),
            ("garbage.json", $"{tmp["garbage.json"]}: not valid JSON"),
            ("twice.json", $"{tmp["twice.json"]}: key \"0\": expert 1 is listed twice"),
            ("few.json", $"{tmp["few.json"]}: key \"2\": keeps 1 expert(s), fewer than the 2"),
            ("dense.json", $"{tmp["dense.json"]}: key \"7\": layer 7 is not a sparse MoE layer"),
        };
        foreach (var (file, expected) in cases)
            Refusal.Assert1(JobSupport.CliOutput("prune", model, "--keep-map", tmp[file], "--out", tmp["p"]), expected, output, tmp["p"]);
        var allowed = JobSupport.CliOutput("prune", model, "--keep-map", tmp["uneven.json"], "--global", "--out", tmp["p"], "--json");
        Assert.True(allowed.Code == 0, allowed.Err);
    }

    [Fact]
    public void PerplexityInputErrorsNameTheFileAndLine()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        File.WriteAllText(tmp["ids.txt"], "1 2 3\n4 5 64 6\n");
        Refusal.Assert1(JobSupport.CliOutput("perplexity", model, "--token-file", tmp["ids.txt"], "--json"),
            $"{tmp["ids.txt"]}:2: token id 64 is outside the vocabulary 0..63", output);
        string withTokenizer = TokenizedModel(tmp);
        File.WriteAllText(tmp["blank.txt"], "  \n\t\n ");
        Refusal.Assert1(JobSupport.CliOutput("perplexity", withTokenizer, "--text-file", tmp["blank.txt"]),
            $"{tmp["blank.txt"]}: the text is empty or only whitespace", output);
        Refusal.Assert1(JobSupport.CliOutput("perplexity", withTokenizer, "--text", "   "), "--text: the text is empty or only whitespace", output);
        Refusal.Assert1(JobSupport.CliOutput("perplexity", withTokenizer, "--text", "a", "--text-file", tmp["blank.txt"]),
            "perplexity: give exactly one of --token-file, --text, --text-file, --corpus", output);

        var ok = JobSupport.CliOutput("perplexity", withTokenizer, "--text", "The expert routers send each token to two experts.", "--json");
        Assert.True(ok.Code == 0, ok.Err);
        var json = JsonNode.Parse(ok.Out)!;
        Assert.Equal(Path.GetFullPath(withTokenizer), (string)json["model"]!);
        Assert.Equal("The expert routers send each token to two experts.".Length, (int)json["data"]!["text_characters"]!);
    }

    /// <summary>A tiny model with the trained fixture tokenizer (its vocabulary).</summary>
    static string TokenizedModel(TempDir tmp)
    {
        string fixture = Path.Combine(AppContext.BaseDirectory, "fixtures", "tokenizers", "trained");
        int vocab = MoePrune.Tokenization.HfTokenizer.Load(Path.Combine(fixture, "tokenizer.json")).VocabSize;
        string dir = tmp["tok-model"];
        using (var model = MoePrune.Models.TinyCheckpoint.Random(MoePrune.Models.TinyCheckpoint.Config("mixtral", hidden: 32, layers: 2, experts: 4, expertSize: 16, vocab: vocab)))
            MoePrune.Models.ModelLoader.Save(model, dir);
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" }) File.Copy(Path.Combine(fixture, f), Path.Combine(dir, f));
        return dir;
    }

    [Fact]
    public void ScoresWithoutTheCriterionSayWhatTheFileHolds()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["a.txt"], 30);
        var naee = JobSupport.CliOutput(["score", model, "--criteria", "naee", "--out", tmp["naee.json"], "--json", .. Calib(tokens)]);
        Assert.True(naee.Code == 0, naee.Err);
        var summary = JsonNode.Parse(naee.Out)!;
        Assert.Equal(["naee"], summary["criteria"]!.AsArray().Select(c => (string)c!));
        Assert.True((double)summary["seconds"]! >= (double)summary["calibration_seconds"]!);
        Refusal.Assert1(JobSupport.CliOutput("prune", model, "--criterion", "min-reap", "--drop", "2", "--scores", tmp["naee.json"], "--out", tmp["p"]),
            $"{tmp["naee.json"]}: no criterion min-reap (have: naee)", output, tmp["p"]);
        Refusal.Assert1(JobSupport.CliOutput("prune", model, "--drop", "2", "--scores", tmp["naee.json"], "--out", tmp["p"]),
            "pruning round: give exactly one of --criterion and --keep-map", output, tmp["p"]);
        var fed = JobSupport.CliOutput("prune", model, "--criterion", "naee", "--keep", "4", "--scores", tmp["naee.json"], "--no-eval", "--out", tmp["p"], "--json");
        Assert.True(fed.Code == 0, fed.Err);

        var human = JobSupport.CliOutput(["score", model, "--criteria", "min-ean,naee", "--out", tmp["both.json"], .. Calib(tokens)]);
        Assert.True(human.Code == 0, human.Err);
        Assert.Contains("2 criteria (min-ean, naee)", human.Out);
    }
}
