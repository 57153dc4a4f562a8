using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Jobs;
using MoePrune.Models;
using MoePrune.Native;
using MoePrune.Tests.IO;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Jobs;

/// <summary>The documented default mix and a weighted genre mix, read from the installed Brown and WordNet corpora.</summary>
public class CorpusCalibrationTests(ITestOutputHelper output)
{
    static string ModelWithTokenizer(TempDir tmp)
    {
        TorchNative.EnsureLoaded();
        string fixture = Path.Combine(AppContext.BaseDirectory, "fixtures", "tokenizers", "trained");
        int vocab = HfTokenizer.Load(Path.Combine(fixture, "tokenizer.json")).VocabSize;
        var dir = tmp["m"];
        using (var model = TinyCheckpoint.Random(TinyCheckpoint.Config("qwen3_moe", hidden: 32, layers: 2, experts: 4, expertSize: 16, vocab: vocab)))
            ModelLoader.Save(model, dir);
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(fixture, f), Path.Combine(dir, f));
        return dir;
    }

    [Fact]
    public void DefaultAndWeightedCorpusMixes()
    {
        using var tmp = new TempDir();
        var model = ModelWithTokenizer(tmp);
        var result = ScoreJob.Run(new ScoreRequest
        {
            ModelDir = model, OutFile = tmp["d.json"], Criteria = CriterionSpec.ParseList("min-ean,min-euf"),
            Calibration = new() { Sequences = 4, Length = 32 },
        });
        var meta = JsonNode.Parse(File.ReadAllText(tmp["d.json"]))!["metadata"]!;
        output.WriteLine(meta["calibration_data"]!.ToJsonString());
        Assert.Equal("brown=1,wordnet=1", (string)meta["calibration_data"]!["spec"]!);
        Assert.Equal(64L, (long)meta["source_tokens"]!["brown"]!);
        Assert.Equal(64L, (long)meta["source_tokens"]!["wordnet"]!);
        Assert.Equal(["brown", "wordnet"], result.Report.Criteria["min-ean"].Sources!.Keys);

        ScoreJob.Run(new ScoreRequest
        {
            ModelDir = model, OutFile = tmp["w.json"], Criteria = CriterionSpec.ParseList("min-euf"),
            Calibration = new() { Spec = "brown:news=2,brown:learned=1,wordnet=1", Sequences = 8, Length = 16 },
        });
        var sources = JsonNode.Parse(File.ReadAllText(tmp["w.json"]))!["metadata"]!["calibration_data"]!["sources"]!;
        Assert.Equal(4, (int)sources["brown:news"]!["sequences"]!);
        Assert.Equal(2, (int)sources["brown:learned"]!["sequences"]!);
        Assert.Equal(2, (int)sources["wordnet"]!["sequences"]!);
    }
}
