using MoePrune.Data;
using MoePrune.Evaluation;
using MoePrune.Models;
using MoePrune.Tokenization;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MoePrune.Tests.Evaluation;

/// <summary>
/// Cloze scoring against a naive computation: every continuation token's log-probability from its own forward over
/// the tokens before it; the chosen option is the naive argmax.
/// </summary>
public sealed class DefinitionClozeTests(ITestOutputHelper output)
{
    static double Naive(MoeForCausalLM model, HfTokenizer tokenizer, string prefix, string continuation)
    {
        var head = tokenizer.Encode(prefix, addSpecialTokens: false);
        var all = tokenizer.Encode(prefix + continuation, addSpecialTokens: false);
        int shared = 0;
        while (shared < head.Count && head[shared] == all[shared]) shared++;
        double sum = 0;
        for (int t = Math.Max(1, shared); t < all.Count; t++)
        {
            using var scope = NewDisposeScope();
            using var ids = tensor(all.Take(t).Select(i => (long)i).ToArray()).unsqueeze(0); // (1, t)
            var last = model.Logits(ids)[0, -1].to(ScalarType.Float64).log_softmax(-1);       // (V) float64
            sum += last[all[t]].item<double>();
        }
        return sum;
    }

    [Fact]
    public void ScoresEqualTokenByTokenForwardsAndTheAnswerIsTheirArgmax()
    {
        var tokenizer = HfTokenizer.Load(DefaultModelFiles.TokenizerJson);
        using var model = TinyCheckpoint.Random(TinyCheckpoint.Config("mixtral", hidden: 32, layers: 2, experts: 4, topK: 2, expertSize: 16, vocab: tokenizer.VocabSize), seed: 7);
        using var inference = inference_mode();
        var knowledge = KnowledgeSet.Default;
        var questions = EvaluationQuestions.Definitions(knowledge).Take(6).ToList();
        int naiveCorrect = 0;
        double worst = 0;
        foreach (var q in questions)
        {
            var entry = knowledge.Entries.Single(e => e.Lemma == q.Subject);
            string sentence = GlossProse.Reverse("dog", entry.Pos, entry.FirstSense.Definition);
            string prefix = sentence[..sentence.LastIndexOf("dog", StringComparison.Ordinal)];
            var scores = q.Options.Select(o =>
            {
                double fast = DefinitionCloze.ContinuationLogLikelihood(model, tokenizer, prefix, o + "\".");
                double naive = Naive(model, tokenizer, prefix, o + "\".");
                worst = Math.Max(worst, Math.Abs(fast - naive));
                return naive;
            }).ToArray();
            if (Array.IndexOf(scores, scores.Max()) == q.AnswerIndex) naiveCorrect++;
        }
        var accuracy = DefinitionCloze.Evaluate(model, tokenizer, questions, knowledge);
        output.WriteLine($"max |one forward − token by token| = {worst:E2}; correct {accuracy.Correct} (naive {naiveCorrect}) of {questions.Count}");
        Assert.True(worst < 1e-3, $"diff {worst}");
        Assert.Equal(naiveCorrect, accuracy.Correct);
    }
}
