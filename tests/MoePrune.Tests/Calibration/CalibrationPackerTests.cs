using MoePrune.Calibration;
using MoePrune.Tests.IO;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Calibration;

/// <summary>Packing of token files and text files into N × L sequences: determinism, mix shares, errors.</summary>
public class CalibrationPackerTests(ITestOutputHelper output)
{
    /// <summary>Writes <paramref name="docs"/> random documents with ids in [lo, hi); returns them.</summary>
    static List<int[]> WriteTokens(string path, int docs, int lo, int hi, int seed)
    {
        var rng = new Random(seed);
        var list = Enumerable.Range(0, docs)
            .Select(_ => Enumerable.Range(0, rng.Next(3, 20)).Select(_ => rng.Next(lo, hi)).ToArray()).ToList();
        File.WriteAllLines(path, list.Select(d => string.Join(" ", d)));
        return list;
    }

    [Fact]
    public void SameSeedSameSequencesOtherSeedOthers()
    {
        using var tmp = new TempDir();
        WriteTokens(tmp["a.txt"], 60, 10, 100, 1);
        var spec = $"tokens:{tmp["a.txt"]}";
        var one = CalibrationPacker.Pack(spec, null, 6, 16, seed: 3, vocabSize: 128);
        var two = CalibrationPacker.Pack(spec, null, 6, 16, seed: 3, vocabSize: 128);
        var other = CalibrationPacker.Pack(spec, null, 6, 16, seed: 4, vocabSize: 128);
        Assert.Equal(6, one.Sequences.Count);
        Assert.All(one.Sequences, s => Assert.Equal(16, s.Ids.Length));
        Assert.Equal(one.Sequences.Select(s => s.Ids), two.Sequences.Select(s => s.Ids));
        Assert.NotEqual(one.Sequences.Select(s => s.Ids), other.Sequences.Select(s => s.Ids));
        Assert.False(one.IsMix);
        Assert.Equal(96, one.Tokens);
    }

    /// <summary>
    /// Documents whose ids say where they come from (document d, position p → 1000·d + p), so the test can check
    /// the sampling rule without knowing its code: every sequence is a run of contiguous document slices, the
    /// first pass takes one window of at most max(L, ⌈N·L/docs⌉) tokens per document, no document twice.
    /// </summary>
    [Fact]
    public void SequencesAreOneWindowPerDocumentAcrossShuffledDocuments()
    {
        using var tmp = new TempDir();
        var rng = new Random(7);
        var docs = Enumerable.Range(0, 30).Select(d => Enumerable.Range(0, rng.Next(5, 60)).Select(p => 1000 * d + p).ToArray()).ToList();
        File.WriteAllLines(tmp["a.txt"], docs.Select(d => string.Join(" ", d)));
        const int n = 6, len = 10;
        var set = CalibrationPacker.Pack($"tokens:{tmp["a.txt"]}", null, n, len, seed: 0, vocabSize: 40_000);
        int cap = Math.Max(len, (n * len + docs.Count - 1) / docs.Count);
        var stream = set.Sequences.SelectMany(s => s.Ids).ToList();
        var runs = new List<(int Doc, int Start, int Length)>();
        foreach (int id in stream)
        {
            int d = id / 1000, p = id % 1000;
            if (runs.Count > 0 && runs[^1].Doc == d && runs[^1].Start + runs[^1].Length == p) runs[^1] = runs[^1] with { Length = runs[^1].Length + 1 };
            else runs.Add((d, p, 1));
        }
        output.WriteLine(string.Join(" ", runs.Select(r => $"{r.Doc}[{r.Start}+{r.Length}]")));
        Assert.Equal(runs.Count, runs.Select(r => r.Doc).Distinct().Count());                 // one window per document
        Assert.All(runs.SkipLast(1), r => Assert.Equal(Math.Min(cap, docs[r.Doc].Length), r.Length));
        Assert.True(runs.Count >= n, "a sequence should mostly come from its own document");
        Assert.NotEqual(Enumerable.Range(0, runs.Count), runs.Select(r => r.Doc));             // shuffled
        Assert.Contains(runs, r => r.Start > 0);                                                // random offsets
        Assert.Equal(runs.Count, set.Sources[0].Documents);
    }

    [Fact]
    public void ShortStratumTakesTheRestOfItsDocumentsAfterTheWindows()
    {
        using var tmp = new TempDir();
        var docs = new List<int[]> { Enumerable.Range(0, 200).ToArray(), new[] { 500, 501 }, new[] { 600, 601, 602 } };
        File.WriteAllLines(tmp["a.txt"], docs.Select(d => string.Join(" ", d)));
        // 3 documents, 150 tokens: cap = 50, the windows give 55 tokens, the rest comes from document 0
        var set = CalibrationPacker.Pack($"tokens:{tmp["a.txt"]}", null, 3, 50, seed: 1, vocabSize: 1000);
        var stream = set.Sequences.SelectMany(s => s.Ids).ToList();
        Assert.Equal(150, stream.Count);
        Assert.Equal(stream.Count, stream.Distinct().Count());                                 // nothing taken twice
        Assert.Contains(500, stream);
        Assert.Contains(602, stream);
        Assert.Equal(145, stream.Count(id => id < 200));
        Assert.Throws<MoePruneException>(() => CalibrationPacker.Pack($"tokens:{tmp["a.txt"]}", null, 5, 50, 1, 1000));
    }

    [Theory]
    [InlineData(new[] { 36, 21, 13 }, 7, new[] { 4, 2, 1 })]
    [InlineData(new[] { 60, 4, 4 }, 3, new[] { 1, 1, 1 })]              // proportional gives 3,0,0: each non-empty stratum gets one
    [InlineData(new[] { 60, 4, 4 }, 2, new[] { 2, 0, 0 })]              // fewer sequences than strata: proportional only
    [InlineData(new[] { 10, 0, 10 }, 3, new[] { 2, 0, 1 })]
    public void StratumSharesAreProportionalWithOnePerStratum(int[] documents, int n, int[] expected)
    {
        var shares = CalibrationPacker.StratumShares(documents, n);
        output.WriteLine(string.Join(",", shares));
        Assert.Equal(expected, shares);
    }

    [Fact]
    public void MixSharesFollowWeightsAndSourcesStayApart()
    {
        using var tmp = new TempDir();
        var a = WriteTokens(tmp["a.txt"], 80, 10, 60, 3);
        var b = WriteTokens(tmp["b.txt"], 80, 60, 120, 4);
        var set = CalibrationPacker.Pack($"tokens:{tmp["a.txt"]}=3,tokens:{tmp["b.txt"]}=1", null, 8, 10, 0, 128);
        Assert.True(set.IsMix);
        Assert.Equal(["tokens:a.txt", "tokens:b.txt"], set.Sources.Select(s => s.Name));
        Assert.Equal([6, 2], set.Sources.Select(s => s.Sequences));
        Assert.Equal([60L, 20L], set.Sources.Select(s => s.Tokens));
        Assert.Equal(Enumerable.Repeat("tokens:a.txt", 6).Concat(Enumerable.Repeat("tokens:b.txt", 2)), set.Sequences.Select(s => s.Source));
        Assert.All(set.Sequences.Take(6), s => Assert.All(s.Ids, id => Assert.InRange(id, 10, 59)));
        Assert.All(set.Sequences.Skip(6), s => Assert.All(s.Ids, id => Assert.InRange(id, 60, 119)));

        // a source's sequences do not depend on the rest of the mix
        var alone = CalibrationPacker.Pack($"tokens:{tmp["b.txt"]}", null, 2, 10, 0, 128);
        Assert.Equal(alone.Sequences.Select(s => s.Ids), set.Sequences.Skip(6).Select(s => s.Ids));
    }

    [Theory]
    [InlineData(new[] { 1.0, 1.0, 1.0 }, 8, new[] { 3, 3, 2 })]
    [InlineData(new[] { 2.0, 1.0, 1.0 }, 128, new[] { 64, 32, 32 })]
    [InlineData(new[] { 1.0, 2.0 }, 4, new[] { 1, 3 })]
    [InlineData(new[] { 0.5, 0.5 }, 1, new[] { 1, 0 })]
    public void SharesByLargestRemainder(double[] weights, int n, int[] expected)
    {
        var shares = CalibrationPacker.Shares(weights, n);
        output.WriteLine(string.Join(",", shares));
        Assert.Equal(expected, shares);
    }

    [Fact]
    public void TextAndJsonlSourcesAreTokenizedWithEosBetweenDocumentsInsideASequence()
    {
        using var tmp = new TempDir();
        var tokenizer = HfTokenizer.Load(Path.Combine(AppContext.BaseDirectory, "fixtures", "tokenizers", "trained", "tokenizer.json"));
        var paragraphs = Enumerable.Range(0, 30).Select(i => $"The {i}th small paragraph talks about experts and routers number {i * 7}.").ToList();
        File.WriteAllText(tmp["t.txt"], string.Join("\n\n", paragraphs));
        File.WriteAllLines(tmp["j.jsonl"], paragraphs.Select(p => System.Text.Json.JsonSerializer.Serialize(new { text = p })));
        var text = CalibrationPacker.Pack(tmp["t.txt"], tokenizer, 4, 64, 0, tokenizer.VocabSize);
        var jsonl = CalibrationPacker.Pack($"jsonl:{tmp["j.jsonl"]}", tokenizer, 4, 64, 0, tokenizer.VocabSize);
        Assert.Equal("text:t.txt", text.Sources[0].Name);
        Assert.Equal("jsonl:j.jsonl", jsonl.Sources[0].Name);
        Assert.Equal(text.Sequences.Select(s => s.Ids), CalibrationPacker.Pack($"text:{tmp["t.txt"]}", tokenizer, 4, 64, 0, tokenizer.VocabSize).Sequences.Select(s => s.Ids));

        // independent reference: split the stream at EOS and find every piece among the encoded paragraphs
        var encoded = paragraphs.Select(p => tokenizer.Encode(p, addSpecialTokens: false).ToArray()).ToList();
        // (paragraphs are shorter than a sequence, so each is taken whole; EOS separates them inside a sequence)
        Assert.All(new[] { text, jsonl }, set => Assert.Contains(set.Sequences, s => s.Ids.Contains(tokenizer.EosId!.Value)));
        foreach (var set in new[] { text, jsonl })
            foreach (var sequence in set.Sequences)
            {
                var pieces = Split(sequence.Ids.ToList(), tokenizer.EosId);
                output.WriteLine(string.Join(" | ", pieces.Select(p => p.Length)));
                foreach (var piece in pieces.Skip(1).SkipLast(1)) Assert.Contains(encoded, e => e.SequenceEqual(piece));
                Assert.Contains(encoded, e => e.TakeLast(pieces[0].Length).SequenceEqual(pieces[0]));
                Assert.Contains(encoded, e => e.Take(pieces[^1].Length).SequenceEqual(pieces[^1]));
            }
    }

    static List<int[]> Split(List<int> stream, int? eos)
    {
        Assert.NotNull(eos);
        var pieces = new List<int[]>();
        var cur = new List<int>();
        foreach (var id in stream)
            if (id == eos) { pieces.Add(cur.ToArray()); cur.Clear(); } else cur.Add(id);
        pieces.Add(cur.ToArray());
        return pieces;
    }

    [Fact]
    public void BadSpecsGiveOneLineErrors()
    {
        using var tmp = new TempDir();
        WriteTokens(tmp["a.txt"], 3, 10, 100, 5);
        File.WriteAllText(tmp["empty.txt"], "\n\n");
        File.WriteAllText(tmp["t.txt"], "some text");
        string Err(string spec, int seqs = 2, int len = 4, int vocab = 128) =>
            Assert.Throws<MoePruneException>(() => CalibrationPacker.Pack(spec, null, seqs, len, 0, vocab)).Message;

        var messages = new[]
        {
            Err("webtext"), Err($"tokens:{tmp["empty.txt"]}"), Err($"tokens:{tmp["a.txt"]}", seqs: 100),
            Err($"text:{tmp["t.txt"]}"), Err($"tokens:{tmp["a.txt"]}=0"), Err($"tokens:{tmp["a.txt"]}", vocab: 50),
            Err($"tokens:{tmp["missing.txt"]}"), Err(""),
        };
        foreach (var m in messages) output.WriteLine(m);
        Assert.All(messages, m => Assert.DoesNotContain('\n', m));
        Assert.Contains("unknown calibration source 'webtext'", messages[0]);
        Assert.Contains("is empty", messages[1]);
        Assert.Contains("fewer tokens than the 400 requested", messages[2]);
        Assert.Contains("needs a tokenizer", messages[3]);
        Assert.Contains("must be a positive number", messages[4]);
        Assert.Contains("outside the vocabulary", messages[5]);
        Assert.Contains("not found", messages[6]);
        Assert.Contains("names no calibration source", messages[7]);
    }
}
