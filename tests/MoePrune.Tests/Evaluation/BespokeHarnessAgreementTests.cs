using MoePrune.Data;
using MoePrune.Data.Tasks;
using MoePrune.Evaluation;
using MoePrune.Evaluation.LogLikelihood;
using MoePrune.Evaluation.Tasks;
using MoePrune.Models;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Evaluation;

/// <summary>
/// The built-in <c>def2word_letter</c> task through the general harness against the older bespoke
/// <see cref="DefinitionAccuracy"/> (letter logits at the prompt's last position) on the shipped model: the task's
/// continuation is <c>":\n" + letter</c> after <c>### Answer</c>, whose first token's probability is common to the
/// four letters, so both must be right on exactly the same questions.
/// </summary>
public sealed class BespokeHarnessAgreementTests(ITestOutputHelper output)
{
    [Fact]
    public void LetteredTaskAgreesWithDefinitionAccuracy()
    {
        const int n = 20;
        var tokenizer = HfTokenizer.Load(DefaultModelFiles.TokenizerJson);
        using var model = ModelLoader.Load(DefaultModelFiles.Directory());
        var task = TaskFile.Parse("def2word_letter", "builtin", BuiltinTasks.Lines(["def2word_letter"])["def2word_letter"]);
        var encoder = new ContinuationEncoder(tokenizer);
        var result = TaskRunner.Run(model, TaskRunner.Prepare(task, encoder, new EvalSettings(Limit: n)), encoder, batchSize: 8);
        var questions = EvaluationQuestions.Definitions(KnowledgeSet.Default).Take(n).ToList();
        int bespoke = 0;
        for (int i = 0; i < n; i++)
        {
            var one = DefinitionAccuracy.Evaluate(model, tokenizer, [questions[i]]);
            bool harness = result.Samples[i]["pred"]!.GetValue<int>() == result.Samples[i]["gold"]!.GetValue<int>();
            Assert.Equal(questions[i].AnswerIndex, result.Samples[i]["gold"]!.GetValue<int>());
            Assert.True(harness == (one.Correct == 1), $"question {i} ({questions[i].Subject}): harness {harness}, bespoke {one.Correct == 1}");
            bespoke += one.Correct;
        }
        output.WriteLine($"first {n} held-out questions: harness acc {result.Acc!.Value.Mean:F3}, bespoke {bespoke}/{n}");
        Assert.Equal(bespoke / (double)n, result.Acc!.Value.Mean, 12);
    }
}
