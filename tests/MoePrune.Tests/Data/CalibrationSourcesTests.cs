using MoePrune.Data;
using Xunit;

namespace MoePrune.Tests.Data;

/// <summary>Calibration source specs: train split only, deterministic order, one-line errors.</summary>
public class CalibrationSourcesTests
{
    [Fact]
    public void BrownSpecsYieldTrainDocumentsOfTheGenre()
    {
        var corpus = BrownCorpus.Load();
        var splits = BrownSplits.Default;
        var news = CalibrationSources.Texts("brown:news").ToList();
        Assert.Equal(splits.Documents(CorpusSplit.Train, BrownGenre.Parse("news")).Select(id => corpus[id].Text), news);
        Assert.Equal(news, CalibrationSources.Texts("brown:A"));
        Assert.Equal(splits.Documents(CorpusSplit.Train).Count, CalibrationSources.Texts("brown").Count());
        Assert.Equal(splits.Documents(CorpusSplit.Train, BrownGenre.Parse("learned")).Count, CalibrationSources.Texts("brown:learned").Count());
        var validationTexts = splits.Documents(CorpusSplit.Validation).Select(id => corpus[id].Text).ToHashSet();
        Assert.DoesNotContain(CalibrationSources.Texts("brown"), validationTexts.Contains);
    }

    [Fact]
    public void WordNetAndCombinedSpecs()
    {
        var wordnet = CalibrationSources.Texts("wordnet").ToList();
        Assert.Equal(KnowledgeSet.Default.Entries.Count, wordnet.Count);
        Assert.StartsWith(GlossProse.Write(KnowledgeSet.Default.Entries[0]), wordnet[0]);
        Assert.Equal(wordnet.Count + CalibrationSources.Texts("brown:humor").Count(), CalibrationSources.Texts("brown:humor, wordnet").Count());
    }

    [Theory]
    [InlineData("brown:poetry", "brown:poetry")]
    [InlineData("wiki", "wiki")]
    [InlineData(" , ", "empty")]
    public void BadSpecsThrowOneLine(string spec, string mentioned)
    {
        var e = Assert.Throws<MoePruneException>(() => CalibrationSources.Parse(spec));
        Assert.Contains(mentioned, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }
}
