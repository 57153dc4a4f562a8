using MoePrune.Data;
using Xunit;

namespace MoePrune.Tests.Data;

/// <summary>WordNet lookups against hand-checked entries of the WordNet 3.1 files.</summary>
public class WordNetTests
{
    static WordNet Net => WordNet.Load(); // parsed once per process (cached)

    [Fact]
    public void DogFirstNounSenseHasHandCheckedGlossAndHypernyms()
    {
        var dog = Net.Synsets("dog", WordNetPos.Noun);
        Assert.Equal(7, dog.Count);
        var first = dog[0];
        Assert.Equal(2086723, first.Offset);
        Assert.Equal(["dog", "domestic_dog", "Canis_familiaris"], first.Lemmas);
        Assert.Equal("a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times; occurs in many breeds",
                     first.Definition);
        Assert.Equal(["the dog barked all night"], first.Examples);
        var hypernyms = Net.Hypernyms(first);
        Assert.Equal(["canine", "domestic animal"], hypernyms.Select(h => h.Words.First()));
        Assert.Contains("canid", hypernyms[0].Lemmas);
    }

    [Fact]
    public void RunFirstVerbSenseAndLookupAcrossPartsOfSpeech()
    {
        var run = Net.Synsets("Run", WordNetPos.Verb);
        Assert.Equal(41, run.Count);
        Assert.Equal("move fast by using one's feet, with one foot off the ground at any given time", run[0].Definition);
        Assert.Equal(["Don't run--you'll be out of breath", "The children ran to the store"], run[0].Examples);
        Assert.Equal([WordNetPos.Noun, WordNetPos.Verb], Net.Lookup("run").Select(x => x.Pos));
        Assert.NotEmpty(Net.Hypernyms(run[0]));
    }

    [Fact]
    public void AdjectiveMarkersAndUnderscoresAreRemovedForDisplay()
    {
        Assert.Equal("domestic dog", WordNet.Display("domestic_dog"));
        Assert.Equal("galore", WordNet.Display("galore(ip)"));
        Assert.True(Net.Contains("ice cream", WordNetPos.Noun));
        Assert.Empty(Net.Synsets("qwertyuiop", WordNetPos.Noun));
    }

    [Theory]
    [InlineData("a thing; \"ex one\"; \"ex two\"", "a thing", new[] { "ex one", "ex two" })]
    [InlineData("plain definition  ", "plain definition", new string[0])]
    [InlineData("to be; \"quote\" - Shakespeare", "to be", new[] { "quote" })]
    public void GlossSplitsIntoDefinitionAndExamples(string gloss, string definition, string[] examples)
    {
        var (d, e) = WordNetGloss.Split(gloss);
        Assert.Equal(definition, d);
        Assert.Equal(examples, e);
    }

    [Theory]
    [InlineData("dogs", WordNetPos.Noun, "dog")]
    [InlineData("children", WordNetPos.Noun, "child")]
    [InlineData("glasses", WordNetPos.Noun, "glass")]
    [InlineData("aids", WordNetPos.Noun, "aid")]
    [InlineData("went", WordNetPos.Verb, "go")]
    [InlineData("stopped", WordNetPos.Verb, "stop")]
    [InlineData("hoped", WordNetPos.Verb, "hope")]
    [InlineData("singing", WordNetPos.Verb, "sing")]
    [InlineData("studies", WordNetPos.Verb, "study")]
    [InlineData("better", WordNetPos.Adjective, "good")]
    [InlineData("larger", WordNetPos.Adjective, "large")]
    public void LemmatizerMapsInflectedForms(string form, WordNetPos pos, string lemma) =>
        Assert.Equal(lemma, new Lemmatizer(Net).Lemma(form, pos));
}
