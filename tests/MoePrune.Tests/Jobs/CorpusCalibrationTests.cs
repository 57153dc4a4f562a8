using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Data;
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
        var genres = meta["calibration_data"]!["sources"]!["brown"]!["genres"]!.AsObject();
        Assert.Equal(2, genres.Count);                                             // 2 sequences: the two largest genres
        Assert.Equal(64L, genres.Sum(g => (long)g.Value!["tokens"]!));

        ScoreJob.Run(new ScoreRequest
        {
            ModelDir = model, OutFile = tmp["w.json"], Criteria = CriterionSpec.ParseList("min-euf"),
            Calibration = new() { Spec = "brown:news=2,brown:learned=1,wordnet=1", Sequences = 8, Length = 16 },
        });
        var sources = JsonNode.Parse(File.ReadAllText(tmp["w.json"]))!["metadata"]!["calibration_data"]!["sources"]!;
        Assert.Equal(4, (int)sources["brown:news"]!["sequences"]!);
        Assert.Equal(2, (int)sources["brown:learned"]!["sequences"]!);
        Assert.Equal(2, (int)sources["wordnet"]!["sequences"]!);
        Assert.Null(sources["brown:news"]!["genres"]);
    }

    /// <summary>
    /// The default mix's Brown half covers every genre, in proportion to its train documents (within one
    /// sequence; at least one each), one document per sequence; a genre's sequences are windows of its own
    /// documents, checked against the documents encoded here.
    /// </summary>
    [Fact]
    public void DefaultBrownCalibrationIsStratifiedByGenre()
    {
        var tokenizer = HfTokenizer.Load(Path.Combine(AppContext.BaseDirectory, "fixtures", "tokenizers", "trained", "tokenizer.json"));
        var set = CalibrationPacker.Pack(CalibrationSpec.Default, tokenizer, CalibrationPacker.DefaultSequences, 32, seed: 0, tokenizer.VocabSize);
        var brown = set.Sources.Single(s => s.Name == "brown");
        int total = BrownSplits.Default.Documents(CorpusSplit.Train).Count;
        foreach (var g in brown.Strata)
        {
            int docs = BrownSplits.Default.Documents(CorpusSplit.Train, BrownGenre.Parse(g.Name)).Count;
            double proportional = (double)brown.Sequences * docs / total;
            output.WriteLine($"{g.Name,-16} {docs,3} documents: {g.Sequences} sequences (proportional {proportional:F2}), {g.Tokens} tokens, {g.Documents} drawn");
            Assert.True(g.Sequences >= 1 && Math.Abs(g.Sequences - proportional) < 1, g.Name);
            Assert.Equal(g.Sequences, g.Documents);
        }
        Assert.Equal(BrownGenre.All.Select(g => g.Name), brown.Strata.Select(s => s.Name));
        Assert.Equal(brown.Sequences, brown.Strata.Sum(s => s.Sequences));

        int offset = brown.Strata.TakeWhile(s => s.Name != "humor").Sum(s => s.Sequences);
        var humor = BrownSplits.Default.Documents(BrownCorpus.Load(), CorpusSplit.Train, BrownGenre.Parse("humor"))
            .Select(d => tokenizer.Encode(d.Text, addSpecialTokens: false).ToArray()).ToList();
        var humorSequences = set.Sequences.Skip(offset).Take(brown.Strata.Single(s => s.Name == "humor").Sequences).ToList();
        Assert.All(humorSequences, s => Assert.Contains(humor, doc => IndexOf(doc, s.Ids) >= 0));
    }

    static int IndexOf(int[] doc, int[] window)
    {
        for (int i = 0; i + window.Length <= doc.Length; i++)
            if (doc.AsSpan(i, window.Length).SequenceEqual(window)) return i;
        return -1;
    }
}
