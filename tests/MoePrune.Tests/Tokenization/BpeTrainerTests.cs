using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Tokenization;

/// <summary>
/// BpeTrainer: learned merges equal those of a naive trainer written here (recounts every pair each step,
/// same tie rule), training is deterministic (retraining reproduces the committed tokenizer.json), and the
/// written file reads back to the JS reference's ids (fixtures/tokenizers/trained, made by
/// tools/tokenizers/make_trained.sh).
/// </summary>
public class BpeTrainerTests(ITestOutputHelper output)
{
    static readonly string TrainedDir = Path.Combine(GoldenTokenizers.Root, "trained");
    static readonly string[] Specials = ["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"];

    [Theory]
    [InlineData(2, 400)]
    [InlineData(1, 900)]
    public void MergesEqualNaiveReference(int minFrequency, int vocabSize)
    {
        const string pattern = @" ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+";   // ASCII-only: Regex is exact here
        string text = File.ReadAllText(Path.Combine(TrainedDir, "corpus.txt"))[..6000] + " aaaa abab abab bbbb xyxyxy yxyx";
        var options = new BpeTrainerOptions { VocabSize = vocabSize, PreTokenizerPattern = pattern, SpecialTokens = [], MinFrequency = minFrequency };

        var fast = new BpeTrainer(options).Train([text]).Merges;
        var naive = NaiveTrain(text, pattern, vocabSize - 256, minFrequency);

        output.WriteLine($"min_frequency {minFrequency}: {fast.Count} merges (naive {naive.Count}); first {string.Join(" ", fast.Take(8))}");
        Assert.True(fast.Count > 100, $"only {fast.Count} merges learned");
        int firstDiff = Enumerable.Range(0, Math.Min(fast.Count, naive.Count)).FirstOrDefault(i => fast[i] != naive[i], -1);
        Assert.True(firstDiff < 0, $"merge {firstDiff} differs: {(firstDiff >= 0 ? $"{fast[firstDiff]} vs {naive[firstDiff]}" : "")}");
        Assert.Equal(naive.Count, fast.Count);
    }

    /// <summary>Textbook BPE: count every adjacent pair of every word, merge the best, repeat.</summary>
    static List<(string, string)> NaiveTrain(string text, string pattern, int maxMerges, int minFrequency)
    {
        var words = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (Match m in Regex.Matches(text, pattern))
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(m.Value);
            string word = new(bytes.Select(ByteLevelAlphabet.CharOf).ToArray());
            words[word] = words.GetValueOrDefault(word) + 1;
        }
        var split = words.Select(w => (Symbols: w.Key.Select(c => c.ToString()).ToList(), Count: w.Value)).ToList();
        var vocab = new HashSet<string>(Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.CharOf((byte)b).ToString()));
        var merges = new List<(string, string)>();
        while (vocab.Count < 256 + maxMerges)
        {
            var counts = new Dictionary<(string, string), long>();
            foreach (var (symbols, count) in split)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    counts[(symbols[i], symbols[i + 1])] = counts.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            if (counts.Count == 0) break;
            var best = counts.OrderByDescending(p => p.Value)
                .ThenBy(p => p.Key.Item1, StringComparer.Ordinal).ThenBy(p => p.Key.Item2, StringComparer.Ordinal).First();
            if (best.Value < Math.Max(1, minFrequency)) break;
            var (a, b) = best.Key;
            merges.Add((a, b));
            vocab.Add(a + b);
            foreach (var (symbols, _) in split)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    if (symbols[i] == a && symbols[i + 1] == b) { symbols[i] = a + b; symbols.RemoveAt(i + 1); }
        }
        return merges;
    }

    [Fact]
    public void RetrainingReproducesTheCommittedTokenizerJson()
    {
        var options = new BpeTrainerOptions { VocabSize = 1000, SpecialTokens = Specials };
        var trained = new BpeTrainer(options).Train([File.ReadAllText(Path.Combine(TrainedDir, "corpus.txt"))]);
        var committed = JsonNode.Parse(File.ReadAllText(Path.Combine(TrainedDir, "tokenizer.json")))!;
        output.WriteLine($"vocab {trained.VocabSize}, {trained.Merges.Count} merges, {trained.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(1000, trained.VocabSize);
        Assert.True(JsonNode.DeepEquals(committed, trained.ToTokenizerJson()), "retrained tokenizer.json differs from the committed one");
    }

    [Fact]
    public void TrainedFileReadsBackToTheReferenceIds()
    {
        var tokenizer = HfTokenizer.Load(TrainedDir);
        var golden = JsonNode.Parse(File.ReadAllText(Path.Combine(TrainedDir, "golden.json")))!["cases"]!.AsArray();
        Assert.True(tokenizer.IsLossless);
        Assert.Equal(Specials.Select(s => (int?)(996 + Array.IndexOf(Specials, s))), Specials.Select(tokenizer.IdOf));
        int mismatches = 0;
        foreach (var c in golden)
        {
            string text = c!["text"]!.GetValue<string>();
            var want = c["ids"]!.AsArray().Select(x => (int)x!).ToArray();
            var wantPlain = c["ids_no_special"]!.AsArray().Select(x => (int)x!).ToArray();
            var ids = tokenizer.Encode(text);
            bool ok = ids.SequenceEqual(want) && tokenizer.Encode(text, false).SequenceEqual(wantPlain)
                      && tokenizer.Decode(ids) == c["decoded"]!.GetValue<string>();
            if (!ok && mismatches++ < 5) output.WriteLine($"mismatch {GoldenTokenizers.Show(text)}: [{string.Join(",", ids.Take(20))}] want [{string.Join(",", want.Take(20))}]");
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text, false)));   // no normalizer: lossless
        }
        output.WriteLine($"{golden.Count} strings, {mismatches} mismatches");
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void VocabularyTooSmallForBytesIsAUserError()
    {
        var e = Assert.Throws<MoePruneException>(() => new BpeTrainer(new BpeTrainerOptions { VocabSize = 100 }).Train(["abc"]));
        Assert.Contains("256", e.Message);
    }
}
