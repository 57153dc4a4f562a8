using MoePrune.Evaluation.LogLikelihood;
using MoePrune.Evaluation.Tasks;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Evaluation;

/// <summary>acc / acc_norm and their standard errors: fixed numbers worked out by hand, and a small task run end to end against naive forwards.</summary>
public sealed class MultipleChoiceTests(ITestOutputHelper output)
{
    static MultipleChoiceDocument Doc(string id, string context, string[] choices, int gold) =>
        new(id, context, "test", " ", "\n\n", "hand.jsonl", 1, choices, gold);

    [Fact]
    public void AccAndAccNormOnFixedLogLikelihoods()
    {
        // "a" (1 code point) at −2 beats "bbbb" (4) at −4 on the raw sum; per character −2 < −1, so acc_norm picks "bbbb".
        var o1 = MultipleChoiceScoring.Outcome(Doc("1", "x", ["a", "bbbb"], 1), [-2.0, -4.0]);
        Assert.Equal((0, 1), (o1.Prediction, o1.NormalizedPrediction));
        // Two emoji are 2 code points (4 UTF-16 units): −3/2 = −1.5 beats "cc" −3.2/2 = −1.6 and "d" −1.7/1.
        var o2 = MultipleChoiceScoring.Outcome(Doc("2", "x", ["😀😀", "cc", "d"], 0), [-3.0, -3.2, -1.7]);
        Assert.Equal((2, 0), (o2.Prediction, o2.NormalizedPrediction));
        // Ties go to the first choice.
        var o3 = MultipleChoiceScoring.Outcome(Doc("3", "x", ["ab", "cd"], 1), [-1.0, -1.0]);
        Assert.Equal((0, 0), (o3.Prediction, o3.NormalizedPrediction));

        // 3 of 4 right: p = 0.75, stderr = √(0.75 · 0.25 / 3) = 0.25.
        var m = MeanWithError.Of([true, true, false, true]);
        Assert.Equal(0.75, m.Mean, 12);
        Assert.Equal(0.25, m.StandardError!.Value, 12);
        Assert.Null(MeanWithError.Of([true]).StandardError);
    }

    [Fact]
    public void ASmallTaskScoresAsComputedByHandFromNaiveForwards()
    {
        var tokenizer = HfTokenizer.Load(DefaultModelFiles.TokenizerJson);
        using var model = EvalFixtures.Tiny(vocab: tokenizer.VocabSize, seed: 9);
        var lines = new[]
        {
            """{"id": "q1", "context": "The sky is", "choices": ["blue", "a large green vegetable", "up"], "gold": 0}""",
            """{"id": "q2", "context": "Two plus two is ", "choices": ["four", "4", "fish"], "gold": 1}""",
            """{"id": "q3", "context": "Colour:", "choices": ["red", "yellowish brown"], "gold": 1, "target_delimiter": "  "}""",
            """{"id": "q4", "context": "A dog is a kind of", "choices": ["animal", "plant", "mineral", "vegetable"], "gold": 0}""",
        };
        var task = TaskFile.Parse("hand", "hand.jsonl", lines);
        var encoder = new ContinuationEncoder(tokenizer);
        var result = TaskRunner.Run(model, TaskRunner.Prepare(task, encoder, new EvalSettings()), encoder, batchSize: 3);

        int right = 0, rightNorm = 0;
        double worst = 0;
        for (int d = 0; d < task.Documents.Count; d++)
        {
            var doc = (MultipleChoiceDocument)task.Documents[d];
            var lls = new double[doc.Choices.Count];
            for (int c = 0; c < lls.Length; c++)
            {
                // The rule spelled out: trailing spaces move, the continuation is what follows the context's own encoding.
                string context = doc.Context.TrimEnd(), continuation = doc.Context[context.Length..] + doc.TargetDelimiter + doc.Choices[c];
                var head = tokenizer.Encode(context, addSpecialTokens: false).ToArray();
                var whole = tokenizer.Encode(context + continuation, addSpecialTokens: false).ToArray();
                lls[c] = EvalFixtures.NaiveLogLikelihood(model, head, whole[head.Length..]);
                var fromSamples = result.Samples[d]["loglikelihoods"]!.AsArray()[c]!.GetValue<double>();
                worst = Math.Max(worst, Math.Abs(fromSamples - lls[c]));
            }
            int pred = Array.IndexOf(lls, lls.Max());
            var norm = lls.Select((ll, c) => ll / doc.Choices[c].Length).ToArray();   // ASCII choices: chars = code points
            int predNorm = Array.IndexOf(norm, norm.Max());
            right += pred == doc.Gold ? 1 : 0;
            rightNorm += predNorm == doc.Gold ? 1 : 0;
            output.WriteLine($"{doc.Id}: {string.Join(", ", lls.Select(x => x.ToString("F3")))} → {pred} / norm {predNorm}, gold {doc.Gold}");
        }
        output.WriteLine($"acc {right}/4, acc_norm {rightNorm}/4; max |sample − naive| = {worst:E2}");
        Assert.True(worst < 1e-4);
        Assert.Equal(right / 4.0, result.Acc!.Value.Mean, 12);
        Assert.Equal(rightNorm / 4.0, result.AccNorm!.Value.Mean, 12);
        double p = right / 4.0;
        Assert.Equal(Math.Sqrt(p * (1 - p) / 3), result.Acc!.Value.StandardError!.Value, 12);
        Assert.Equal(4, result.N);
    }
}
