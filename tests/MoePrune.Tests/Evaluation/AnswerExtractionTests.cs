using MoePrune.Evaluation.Generation;
using MoePrune.Evaluation.Tasks;
using Xunit;

namespace MoePrune.Tests.Evaluation;

/// <summary>Answer extraction on fixed strings, including output no answer can be read from.</summary>
public sealed class AnswerExtractionTests
{
    [Theory]
    [InlineData("B", "B")]
    [InlineData(" (C) because it is", "C")]
    [InlineData("Answer: D.", "D")]
    [InlineData("BAD idea, then A", "A")]
    [InlineData("The answer is b", null)]
    [InlineData("E", null)]
    [InlineData("", null)]
    [InlineData("ABCD", null)]
    [InlineData("B2 or C", "C")]
    public void Letter(string text, string? expected) => Assert.Equal(expected, AnswerExtraction.Extract(text, AnswerExtract.Letter, "ABCD"));

    [Theory]
    [InlineData("The  Eiffel Tower!", "eiffel tower")]
    [InlineData("  an apple, a day ", "apple day")]
    [InlineData("Paris.", "paris")]
    [InlineData("...", null)]
    [InlineData("the", null)]
    public void Exact(string text, string? expected) => Assert.Equal(expected, AnswerExtraction.Extract(text, AnswerExtract.Exact, "ABCD"));

    [Theory]
    [InlineData("about 1,234.50 dollars", "1234.5")]
    [InlineData("-3 degrees", "-3")]
    [InlineData("12, 13", "12")]
    [InlineData("x = 007", "7")]
    [InlineData("no number here", null)]
    public void Number(string text, string? expected) => Assert.Equal(expected, AnswerExtraction.Extract(text, AnswerExtract.Number, "ABCD"));

    [Fact]
    public void MatchingComparesAfterTheSameReading()
    {
        Assert.True(AnswerExtraction.Matches("eiffel tower", ["The Eiffel Tower"], AnswerExtract.Exact));
        Assert.False(AnswerExtraction.Matches("eiffel", ["The Eiffel Tower"], AnswerExtract.Exact));
        Assert.True(AnswerExtraction.Matches("3", ["3.0", "three"], AnswerExtract.Number));
        Assert.True(AnswerExtraction.Matches("B", ["B"], AnswerExtract.Letter));
        Assert.False(AnswerExtraction.Matches(null, ["B"], AnswerExtract.Letter));
        Assert.Equal("B", GenerativeScoring.CutAtStop("B\n### Question", ["###", "\n"]));
        Assert.Equal("no stop", GenerativeScoring.CutAtStop("no stop", ["\n\n"]));
    }
}
