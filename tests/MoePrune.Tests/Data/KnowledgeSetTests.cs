using MoePrune.Data;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Data;

/// <summary>The knowledge set and its held-out subset.</summary>
public class KnowledgeSetTests(ITestOutputHelper output)
{
    static KnowledgeSet Knowledge => KnowledgeSet.Default; // built once per process

    [Fact]
    public void SizeIsInRangeAndEveryEntryHasAGloss()
    {
        output.WriteLine($"knowledge set {Knowledge.Entries.Count}, held out {Knowledge.HeldOut.Count}");
        foreach (var g in Knowledge.Entries.GroupBy(e => e.Pos)) output.WriteLine($"  {g.Key}: {g.Count()}");
        Assert.InRange(Knowledge.Entries.Count, 3000, 5000);
        Assert.True(Knowledge.HeldOut.Count >= 1000);
        Assert.All(Knowledge.Entries, e =>
        {
            Assert.NotEmpty(e.Senses);
            Assert.All(e.Senses, s => Assert.False(string.IsNullOrWhiteSpace(s.Definition)));
            Assert.Matches("^[a-z]{3,}$", e.Lemma);
        });
        Assert.Equal(Knowledge.Entries.Count, Knowledge.Entries.Select(e => e.Lemma).Distinct().Count());
        // Sorted by frequency, most frequent first.
        Assert.True(Knowledge.Entries.Zip(Knowledge.Entries.Skip(1)).All(p => p.First.Frequency >= p.Second.Frequency));
    }

    [Fact]
    public void FrequentLemmasAreInWithTheirDominantPartOfSpeech()
    {
        var byLemma = Knowledge.Entries.ToDictionary(e => e.Lemma);
        Assert.Equal(WordNetPos.Noun, byLemma["time"].Pos);
        Assert.Equal(WordNetPos.Verb, byLemma["make"].Pos);   // "made" counts via the irregular table
        Assert.Equal(WordNetPos.Adjective, byLemma["new"].Pos);
        Assert.True(byLemma["dog"].Frequency > 50);
        Assert.Equal("a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times; occurs in many breeds",
                     byLemma["dog"].FirstSense.Definition);
    }

    [Fact]
    public void HeldOutSubsetMatchesTheCommittedManifest()
    {
        var fromFile = HeldOutManifest.ReadLemmas(CorpusStore.EnsureInstalled().HeldOutManifest);
        Assert.Equal(Knowledge.HeldOut.Select(e => e.Lemma), fromFile);
        var (_, heldOutText) = CorpusManifests.Render(BrownCorpus.Load(), BrownSplits.Default, Knowledge);
        Assert.Equal(heldOutText, File.ReadAllText(CorpusStore.EnsureInstalled().HeldOutManifest));
        var lemmas = Knowledge.Entries.Select(e => e.Lemma).ToHashSet();
        Assert.All(fromFile, l => Assert.Contains(l, lemmas));
        Assert.All(Knowledge.HeldOut, e => Assert.DoesNotContain(e.Lemma, e.FirstSense.Definition, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void ProseWritesEveryKnowledgeEntry()
    {
        var dog = Knowledge.Entries.Single(e => e.Lemma == "dog");
        Assert.StartsWith("A dog is a member of the genus Canis (probably descended from the common wolf)", GlossProse.Write(dog));
        Assert.Contains("For example: \"the dog barked all night\".", GlossProse.Write(dog));
        Assert.Equal("To run means to move fast.", GlossProse.Sentence("run", WordNetPos.Verb, "move fast", first: true));
        Assert.Equal("The verb that means \"move fast\" is \"run\".", GlossProse.Reverse("run", WordNetPos.Verb, "move fast."));
        Assert.Matches("^A dog is a member of the genus Canis [^\"]*\\. The noun that means \"a member of the genus Canis [^\"]*\" is \"dog\"\\.", GlossProse.Write(dog));
        Assert.Equal("An hour is a period.", GlossProse.Sentence("hour", WordNetPos.Noun, "a period", first: true));
        Assert.Equal("To be big is to be above average in size.", GlossProse.Sentence("big", WordNetPos.Adjective, "above average in size", first: true));
        Assert.Equal("Quickly can also mean fast.", GlossProse.Sentence("quickly", WordNetPos.Adverb, "fast", first: false));
    }
}
