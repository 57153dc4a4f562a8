using MoePrune.Data;
using Xunit;

namespace MoePrune.Tests.Data;

/// <summary>The fixed templates rendered on hand-written examples.</summary>
public class InstructionTemplatesTests
{
    [Fact]
    public void DefinitionToWordRendersFourLetteredOptions()
    {
        var e = InstructionTemplates.DefinitionToWord("a domesticated canine", WordNetPos.Noun, ["cat", "dog", "ice_cream", "tree"], 1);
        Assert.Equal("### Question:\nWhich noun means \"a domesticated canine\"?\nA. cat\nB. dog\nC. ice cream\nD. tree\n### Answer:\n", e.Prompt);
        Assert.Equal("B", e.Answer);
        Assert.Equal("dog", e.Subject);
        Assert.Equal(1, e.AnswerIndex);
        Assert.Equal(e.Prompt + "B", e.Text);
    }

    [Fact]
    public void FindWordNamesTheAnswerInTheQuestion()
    {
        var e = InstructionTemplates.FindWord(WordNetPos.Noun, ["cat", "dog", "ice_cream", "tree"], 2);
        Assert.Equal("### Question:\nWhich option is the noun ice cream?\nA. cat\nB. dog\nC. ice cream\nD. tree\n### Answer:\nC", e.Text);
        Assert.Equal(InstructionKind.FindWord, e.Kind);
        Assert.Equal("ice_cream", e.Subject);
    }

    [Fact]
    public void WordToDefinitionAndHypernymAreOpenQuestions()
    {
        var d = InstructionTemplates.WordToDefinition("run", WordNetPos.Verb, "move fast");
        Assert.Equal("### Question:\nWhat does the verb \"run\" mean?\n### Answer:\nmove fast", d.Text);
        Assert.False(d.IsMultipleChoice);
        var h = InstructionTemplates.Hypernym("apple", WordNetPos.Noun, "edible_fruit");
        Assert.Equal("### Question:\nComplete the sentence: an apple is a kind of ...\n### Answer:\nedible fruit", h.Text);
        var v = InstructionTemplates.Hypernym("run", WordNetPos.Verb, "travel_rapidly");
        Assert.Equal("### Question:\nComplete the sentence: to run is a way to ...\n### Answer:\ntravel rapidly", v.Text);
    }

    [Fact]
    public void GenreQuestionUsesReadableGenreNames()
    {
        var genres = new[] { "humor", "news", "learned", "romance" }.Select(BrownGenre.Parse).ToList();
        var e = InstructionTemplates.Genre("It was a dark night.", genres, 3, "cp01");
        Assert.Equal("### Question:\nWhich kind of text is this passage from?\n\"It was a dark night.\"\n" +
                     "A. humor\nB. press reportage\nC. learned and scientific writing\nD. romance and love story\n### Answer:\nD", e.Text);
        Assert.Equal("cp01", e.Subject);
        Assert.Equal(["### Question:", "### Answer:"], InstructionTemplates.Markers);
    }
}
