using MoePrune.Data;
using Xunit;

namespace MoePrune.Tests.Data;

/// <summary>The Brown reader against hand-checked sentences of the real corpus and the corpus manual's counts.</summary>
public class BrownCorpusTests
{
    static BrownCorpus Corpus => BrownCorpus.Load(); // parsed once per process (cached)

    [Fact]
    public void HasTheFifteenGenresWithTheManualsDocumentCounts()
    {
        // Francis & Kucera's manual: A 44, B 27, C 17, D 17, E 36, F 48, G 75, H 30, J 80, K 29, L 24, M 6, N 29, P 29, R 9.
        var expected = new Dictionary<char, int>
        {
            ['A'] = 44, ['B'] = 27, ['C'] = 17, ['D'] = 17, ['E'] = 36, ['F'] = 48, ['G'] = 75, ['H'] = 30,
            ['J'] = 80, ['K'] = 29, ['L'] = 24, ['M'] = 6, ['N'] = 29, ['P'] = 29, ['R'] = 9,
        };
        Assert.Equal(500, Corpus.Documents.Count);
        foreach (var g in BrownGenre.All) Assert.Equal(expected[g.Code], Corpus.OfGenre(g).Count());
        // Every file's letter agrees with its genre code.
        Assert.All(Corpus.Documents, d => Assert.Equal(char.ToUpperInvariant(d.Id[1]), d.Genre.Code));
        // 1,161,192 tagged tokens: the size NLTK reports for the same Form C files.
        Assert.Equal(1_161_192, Corpus.Documents.Sum(d => (long)d.WordCount));
    }

    [Fact]
    public void FirstSentenceOfCa01HasHandCheckedTextAndTags()
    {
        var doc = Corpus["ca01"];
        Assert.Equal("news", doc.Genre.Name);
        var sentence = doc.Paragraphs[0][0];
        Assert.Equal("The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced \"no evidence\" that any irregularities took place.",
                     sentence.Text);
        string[] tags = ["at", "np-tl", "nn-tl", "jj-tl", "nn-tl", "vbd", "nr", "at", "nn", "in", "np$", "jj", "nn", "nn", "vbd",
                         "``", "at", "nn", "''", "cs", "dti", "nns", "vbd", "nn", "."];
        Assert.Equal(tags, sentence.Words.Select(w => w.Tag));
        Assert.Equal("Atlanta's", sentence.Words[10].Word);
        UniversalTag[] universal = [UniversalTag.Det, UniversalTag.Noun, UniversalTag.Noun, UniversalTag.Adj, UniversalTag.Noun,
            UniversalTag.Verb, UniversalTag.Noun, UniversalTag.Det, UniversalTag.Noun, UniversalTag.Adp, UniversalTag.Noun,
            UniversalTag.Adj, UniversalTag.Noun, UniversalTag.Noun, UniversalTag.Verb, UniversalTag.Punct, UniversalTag.Det,
            UniversalTag.Noun, UniversalTag.Punct, UniversalTag.Conj, UniversalTag.Det, UniversalTag.Noun, UniversalTag.Verb,
            UniversalTag.Noun, UniversalTag.Punct];
        Assert.Equal(universal, sentence.Words.Select(w => w.Universal));
    }

    [Fact]
    public void ParenthesizedCitationInCj01IsDetokenized()
    {
        var sentence = Corpus["cj01"].Sentences.Single(s => s.Text.StartsWith("The study of the radio emission of the moon", StringComparison.Ordinal));
        Assert.Equal("The study of the radio emission of the moon and planets began with the detection of the thermal radiation of the moon at 1.25-cm wave length by Dicke and Beringer (1946).",
                     sentence.Text);
        Assert.Equal(["np", "cc", "np", "(", "cd", ")", "."], sentence.Words.TakeLast(7).Select(w => w.Tag));
        Assert.Equal("learned", Corpus["cj01"].Genre.Name);
    }

    [Fact]
    public void DocumentTextHasNoTagsAndOneLinePerParagraph()
    {
        var doc = Corpus["cr09"];
        Assert.DoesNotContain("/", doc.Text.Replace("1/2", "")); // no word/tag residue (fractions aside)
        Assert.Equal(doc.Paragraphs.Count, doc.Text.Split('\n').Length);
    }

    [Theory]
    [InlineData(new[] { "He", "said", ",", "``", "Go", "home", "''", "." }, "He said, \"Go home\".")]
    [InlineData(new[] { "a", "(", "b", ")", "c", ";", ";", "d", "?", "?" }, "a (b) c; d?")]
    [InlineData(new[] { "the", "'", "pro", "'", "side", "and", "`", "con", "'" }, "the 'pro' side and 'con'")]
    [InlineData(new[] { "Yes", "--", "no", "!" }, "Yes -- no!")]
    public void DetokenizerJoinsHandWrittenTokens(string[] tokens, string expected) =>
        Assert.Equal(expected, BrownDetokenizer.Join(tokens));

    [Theory]
    [InlineData("nn-tl-hl", UniversalTag.Noun)]
    [InlineData("pps+bez", UniversalTag.Pron)]
    [InlineData("dod*", UniversalTag.Verb)]
    [InlineData("*", UniversalTag.Adv)]
    [InlineData("pp$$", UniversalTag.Pron)]
    [InlineData("fw-nn", UniversalTag.X)]
    [InlineData("---hl", UniversalTag.Punct)]
    [InlineData("od", UniversalTag.Adj)]
    [InlineData("md*", UniversalTag.Verb)]
    public void UniversalTagsMapBrownDecorations(string tag, UniversalTag expected) =>
        Assert.Equal(expected, UniversalTagset.Map(tag));

    [Fact]
    public void GenreParsesNamesAndCodes()
    {
        Assert.Equal('J', BrownGenre.Parse("learned").Code);
        Assert.Equal("news", BrownGenre.Parse("a").Name);
        var e = Assert.Throws<MoePruneException>(() => BrownGenre.Parse("poetry"));
        Assert.Contains("poetry", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }
}
