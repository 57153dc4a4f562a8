using System.Text.Json.Nodes;
using MoePrune.Data;
using MoePrune.Evaluation.Tasks;
using MoePrune.Tests.Cli;
using MoePrune.Tests.IO;
using Xunit;

namespace MoePrune.Tests.Evaluation;

/// <summary>
/// <c>data tasks</c>: every built-in task file is read back by the task-file reader, the three forms of a question
/// set share their questions, and only held-out material is scored.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class BuiltinTasksTests
{
    [Fact]
    public void WrittenTasksReadBackAndAskOnlyAboutHeldOutMaterial()
    {
        using var tmp = new TempDir();
        var (code, stdout, stderr) = InProcessCli.Run("data", "tasks", "--out", tmp["tasks"], "--json");
        Assert.True(code == 0, stderr);
        var catalog = JsonNode.Parse(stdout)!["tasks"]!.AsObject();
        Assert.Equal(12, catalog.Count);
        var tasks = catalog.Select(kv => TaskFile.Read(Path.Combine(tmp["tasks"], kv.Key + ".jsonl"))).ToDictionary(t => t.Name);
        foreach (var (name, info) in catalog)
        {
            Assert.Equal(info!["test"]!.GetValue<int>(), tasks[name].Test.Count);
            Assert.Equal(0.25, info["chance"]!.GetValue<double>());
        }
        var knowledge = KnowledgeSet.Default;
        foreach (string set in new[] { "def2word", "word2def", "hypernym", "genre" })
        {
            var cloze = (IReadOnlyList<TaskDocument>)tasks[set].Documents;
            var letter = tasks[set + "_letter"].Documents.Cast<MultipleChoiceDocument>().ToList();
            var gen = tasks[set + "_gen"].Documents.Cast<GenerativeDocument>().ToList();
            Assert.Equal(cloze.Select(d => d.Id), letter.Select(d => d.Id));
            Assert.Equal(cloze.Select(d => d.Id), gen.Select(d => d.Id));
            for (int i = 0; i < cloze.Count; i++)
            {
                var c = (MultipleChoiceDocument)cloze[i];
                Assert.Equal(4, c.Choices.Count);
                Assert.Equal(["A", "B", "C", "D"], letter[i].Choices);
                Assert.Equal(c.Gold, letter[i].Gold);
                Assert.Equal(InstructionTemplates.Letters[c.Gold], Assert.Single(gen[i].Answers));
                Assert.Equal(letter[i].Context + letter[i].TargetDelimiter, gen[i].Context);
                Assert.EndsWith(InstructionTemplates.AnswerMarker + "\n", gen[i].Context);
            }
            if (set == "genre")
            {
                var splits = BrownSplits.Default;
                Assert.All(tasks[set].Test, d => Assert.Equal(CorpusSplit.Test, splits.SplitOf(d.Id[..4])));
                Assert.All(tasks[set].Train, d => Assert.Equal(CorpusSplit.Validation, splits.SplitOf(d.Id[..4])));
            }
            else Assert.All(cloze, d => Assert.True(knowledge.IsHeldOut(d.Id), $"{set}: {d.Id} is not held out"));
        }
        Assert.Equal(knowledge.HeldOut.Count, tasks["def2word"].Test.Count);

        // With the default tokenizer no multiple-choice request of any built-in task, zero- or 2-shot, has a token
        // spanning the context / continuation boundary.
        var encoder = new MoePrune.Evaluation.LogLikelihood.ContinuationEncoder(MoePrune.Tokenization.HfTokenizer.Load(DefaultModelFiles.TokenizerJson));
        foreach (var task in tasks.Values.Where(t => t.Kind == TaskKind.MultipleChoice))
            foreach (int shots in new[] { 0, 2 })
            {
                var prepared = TaskRunner.Prepare(task, encoder, new EvalSettings(Shots: shots, Limit: 150));
                Assert.True(prepared.Requests.All(r => !r.Merged), $"{task.Name}, {shots}-shot: {prepared.Requests.Count(r => r.Merged)} merged");
            }
    }
}
