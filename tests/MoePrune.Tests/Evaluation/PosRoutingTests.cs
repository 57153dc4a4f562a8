using MoePrune.Data;
using MoePrune.Evaluation;
using MoePrune.Models;
using MoePrune.Observation;
using MoePrune.Tests.Pruning;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Evaluation;

/// <summary>
/// Expert choice against part of speech: token ↔ word alignment of Brown text against a naive alignment (character
/// offsets from decoding every prefix, words found left to right in the text), and the [tag, expert] counts of
/// <see cref="TokenLabelLoad"/> against counts made by hand from the routing events.
/// </summary>
public sealed class PosRoutingTests(ITestOutputHelper output)
{
    /// <summary>Tag of every token by prefix decoding and a left-to-right search of each rendered word.</summary>
    static int[] NaiveTags(HfTokenizer tokenizer, BrownDocument document, IReadOnlyList<int> ids)
    {
        string text = document.Text;
        var charTag = Enumerable.Repeat(-1, text.Length).ToArray();
        int cursor = 0;
        foreach (var paragraph in document.Paragraphs)
        {
            string? previous = null;
            foreach (var w in paragraph.SelectMany(s => s.Words))
            {
                bool dropped = w.Word == previous && BrownDetokenizer.Undoubled.Contains(w.Word);
                previous = w.Word;
                if (dropped) continue;
                string rendered = BrownDetokenizer.Render(w.Word);
                int at = text.IndexOf(rendered, cursor, StringComparison.Ordinal);
                Assert.True(at >= 0 && at - cursor <= 1, $"{document.Id}: word '{rendered}' not next in the text at {cursor}");
                for (int c = at; c < at + rendered.Length; c++) charTag[c] = (int)w.Universal;
                cursor = at + rendered.Length;
            }
        }
        var tags = new int[ids.Count];
        int start = 0;
        for (int t = 0; t < ids.Count; t++)
        {
            int end = tokenizer.Decode(ids.Take(t + 1)).Length;                           // Brown is ASCII: whole characters
            tags[t] = -1;
            for (int c = start; c < end; c++)
                if (!char.IsWhiteSpace(text[c])) { tags[t] = charTag[c]; break; }
            start = end;
        }
        Assert.Equal(text.Length, start);
        return tags;
    }

    [Fact]
    public void AlignmentEqualsNaivePrefixDecodingOnBrownDocuments()
    {
        var tokenizer = HfTokenizer.Load(DefaultModelFiles.TokenizerJson);
        var corpus = BrownCorpus.Load();
        int tokens = 0, tagged = 0;
        foreach (var genre in BrownGenre.All.Take(5))
        {
            var whole = BrownSplits.Default.Documents(corpus, CorpusSplit.Validation, genre).First();
            var document = whole with { Paragraphs = whole.Paragraphs.Take(6).ToList() };   // prefix decoding is quadratic
            var aligned = BrownTokenTags.Align(tokenizer, document);
            Assert.Equal(tokenizer.Encode(document.Text, addSpecialTokens: false), aligned.Ids);
            Assert.Equal(NaiveTags(tokenizer, document, aligned.Ids), aligned.Tags);
            tokens += aligned.Ids.Length;
            tagged += aligned.Tags.Count(t => t >= 0);
        }
        output.WriteLine($"{tokens} tokens of 5 documents, {tagged} tagged");
        Assert.True(tagged > 0.95 * tokens);
    }

    /// <summary>Keeps every routing event's top-k indices.</summary>
    sealed class Recorder : IMoeObserver
    {
        public ObserverNeeds Needs => ObserverNeeds.Routing;
        public List<(int Layer, long[,] Indices)> Events { get; } = [];
        public void OnRouting(RoutingEvent e)
        {
            var flat = e.TopKIndices.data<long>().ToArray();
            var m = new long[e.TopKIndices.shape[0], e.TopK];
            for (int i = 0; i < flat.Length; i++) m[i / e.TopK, i % e.TopK] = flat[i];
            Events.Add((e.LayerIndex, m));
        }
    }

    [Fact]
    public void LabelCountsEqualHandCountsFromTheRoutingEvents()
    {
        using var model = TinyCheckpoint.Random(SurgerySupport.Config("mixtral"), seed: 5);
        var recorder = new Recorder();
        model.Observers.Add(recorder);
        var rng = new Random(9);
        var sequences = Enumerable.Range(0, 3).Select(s =>
        {
            int n = 7 + 5 * s;
            return new TaggedTokens(Enumerable.Range(0, n).Select(_ => rng.Next(50)).ToArray(),
                                    Enumerable.Range(0, n).Select(_ => rng.Next(-1, PosRouting.TagCount)).ToArray());
        }).ToList();
        var counts = PosRouting.Counts(model, sequences);
        model.Observers.Remove(recorder);

        int layers = counts.Count;
        Assert.Equal(layers * sequences.Count, recorder.Events.Count);
        foreach (var (layer, got) in counts)
        {
            var want = new long[PosRouting.TagCount, got.GetLength(1)];
            var events = recorder.Events.Where(e => e.Layer == layer).ToList();
            for (int s = 0; s < sequences.Count; s++)
                for (int row = 0; row < sequences[s].Tags.Length; row++)
                    for (int k = 0; k < events[s].Indices.GetLength(1); k++)
                        if (sequences[s].Tags[row] >= 0) want[sequences[s].Tags[row], events[s].Indices[row, k]]++;
            Assert.Equal(want, got);
        }
        output.WriteLine($"{layers} layers, {sequences.Sum(s => s.Tags.Count(t => t >= 0))} labelled tokens");
    }
}
