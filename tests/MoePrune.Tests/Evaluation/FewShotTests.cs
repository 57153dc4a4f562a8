using MoePrune.Evaluation.Tasks;
using Xunit;

namespace MoePrune.Tests.Evaluation;

/// <summary>k-shot prompts: the same for a seed, other for another seed, never showing the test document.</summary>
public sealed class FewShotTests
{
    static EvalTask Task(bool withTrain)
    {
        var lines = Enumerable.Range(0, 12).Select(i =>
            $$"""{"id": "d{{i}}", "context": "Question {{i}}?", "choices": ["yes{{i}}", "no{{i}}"], "gold": {{i % 2}}, "split": "{{(withTrain && i >= 8 ? "train" : "test")}}"}""");
        return TaskFile.Parse("t", "t.jsonl", lines);
    }

    [Fact]
    public void PromptsAreDeterministicForASeedAndNeverContainTheTestDocument()
    {
        var task = Task(withTrain: false);
        var changed = 0;
        foreach (var doc in task.Test)
        {
            var demos = FewShot.Demonstrations(task, doc, 5, seed: 7);
            Assert.Equal(demos, FewShot.Demonstrations(task, doc, 5, seed: 7));
            Assert.Equal(5, demos.Distinct().Count());
            Assert.DoesNotContain(doc, demos);
            string prompt = FewShot.Prompt(doc, demos);
            // The test document's text appears once, at the very end, and never with its answer.
            Assert.EndsWith("\n\n" + doc.Context, prompt);
            Assert.Equal(prompt.Length - doc.Context.Length, prompt.IndexOf(doc.Context, StringComparison.Ordinal));
            Assert.DoesNotContain(doc.Context + " " + doc.GoldText, prompt);
            // Each demonstration is context + delimiter + its gold answer.
            foreach (var d in demos) Assert.Contains(d.Context + " " + d.GoldText + "\n\n", prompt);
            if (!FewShot.Demonstrations(task, doc, 5, seed: 8).SequenceEqual(demos)) changed++;
        }
        Assert.True(changed > 0, "another seed should draw other demonstrations");
    }

    [Fact]
    public void DemonstrationsComeFromTheTrainSplitWhenThereIsOne()
    {
        var task = Task(withTrain: true);
        foreach (var doc in task.Test)
            Assert.All(FewShot.Demonstrations(task, doc, 4, seed: 1), d => Assert.Equal("train", d.Split));
        var e = Assert.Throws<MoePruneException>(() => FewShot.Validate(task, 5));
        Assert.Equal("t.jsonl:1: 5 demonstrations asked for but task t has only 4 for this document (train split)", e.Message);
        Assert.Throws<MoePruneException>(() => FewShot.Validate(Task(withTrain: false), 12));   // 11 others at most
        FewShot.Validate(Task(withTrain: false), 11);
    }

    [Fact]
    public void ZeroShotIsTheContextAlone()
    {
        var task = Task(withTrain: false);
        Assert.Equal("Question 0?", FewShot.Prompt(task.Test[0], FewShot.Demonstrations(task, task.Test[0], 0)));
    }
}
