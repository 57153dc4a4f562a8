using MoePrune.Tokenization;
using Xunit;

namespace MoePrune.Tests.Tokenization;

/// <summary>Unsupported tokenizer types and bad inputs are one-line user errors naming the file.</summary>
public class HfTokenizerErrorTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("moeprune-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string Write(string name, string json)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, json);
        return path;
    }

    [Theory]
    [InlineData("Unigram", """{"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]]}""")]
    [InlineData("WordPiece", """{"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0}}""")]
    [InlineData("WordLevel", """{"type": "WordLevel", "unk_token": "[UNK]", "vocab": {"[UNK]": 0}}""")]
    public void UnsupportedModelTypeNamesFileAndType(string type, string model)
    {
        string path = Write("tokenizer.json", $$"""{"added_tokens": [], "normalizer": null, "model": {{model}}}""");
        var e = Assert.Throws<MoePruneException>(() => HfTokenizer.Load(_dir));
        Assert.Contains(path, e.Message);
        Assert.Contains($"'{type}'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void UnsupportedNormalizerNamesType()
    {
        string path = Write("t.json", """{"normalizer": {"type": "BertNormalizer"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""");
        var e = Assert.Throws<MoePruneException>(() => HfTokenizer.Load(path));
        Assert.Contains("BertNormalizer", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void MergeOutsideVocabIsReported()
    {
        string path = Write("t.json", """{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}""");
        var e = Assert.Throws<MoePruneException>(() => HfTokenizer.Load(path));
        Assert.Contains("merge 0", e.Message);
    }

    [Fact]
    public void BadPathsAndBadJson()
    {
        Assert.Contains("no such file", Assert.Throws<MoePruneException>(() => HfTokenizer.Load(Path.Combine(_dir, "missing.json"))).Message);
        Assert.Contains("has no tokenizer.json", Assert.Throws<MoePruneException>(() => HfTokenizer.Load(_dir)).Message);
        Assert.Contains("invalid JSON", Assert.Throws<MoePruneException>(() => HfTokenizer.Load(Write("bad.json", "{ nope"))).Message);
        Assert.Contains("not a tokenizer.json", Assert.Throws<MoePruneException>(() => HfTokenizer.Load(Write("list.json", "[1, 2]"))).Message);
    }

    [Fact]
    public void TinyHandBuiltBpeWithLegacyAndPairMerges()
    {
        // vocab a b c ab abc; merges (a b) then (ab c): "abcab" → [abc, ab]. Both merge spellings agree.
        const string vocab = """{"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4}""";
        foreach (var merges in new[] { """["a b", "ab c"]""", """[["a", "b"], ["ab", "c"]]""" })
        {
            var tokenizer = HfTokenizer.FromJson($$$"""{"model": {"type": "BPE", "vocab": {{{vocab}}}, "merges": {{{merges}}}}}""");
            Assert.Equal([4, 3], tokenizer.Encode("abcab"));
            Assert.Equal(5, tokenizer.VocabSize);
        }
    }
}
