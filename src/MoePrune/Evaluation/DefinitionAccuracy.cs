using MoePrune.Data;
using MoePrune.Models;
using MoePrune.Tokenization;
using static TorchSharp.torch;

namespace MoePrune.Evaluation;

/// <summary>Accuracy of a multiple-choice question set and the number asked.</summary>
public sealed record ChoiceAccuracy(int Questions, int Correct)
{
    public double Accuracy => Questions == 0 ? 0 : (double)Correct / Questions;
}

/// <summary>
/// The 4-choice definition → word harness on held-out lemmas (<see cref="EvaluationQuestions.Definitions"/>):
/// the prompt (question, options A–D, answer marker) is run once and the model's next-token log-probabilities
/// of the four letter tokens are compared; the highest is the model's answer. Chance is 25%.
/// </summary>
public static class DefinitionAccuracy
{
    public static ChoiceAccuracy Evaluate(MoeForCausalLM model, HfTokenizer tokenizer, IReadOnlyList<InstructionExample> questions)
    {
        var letterIds = InstructionTemplates.Letters.Select(l =>
        {
            var ids = tokenizer.Encode(l, addSpecialTokens: false);
            if (ids.Count != 1) throw new MoePruneException($"{tokenizer.Source}: answer letter \"{l}\" is {ids.Count} tokens, expected 1");
            return (long)ids[0];
        }).ToArray();
        int correct = 0;
        using var inference = inference_mode();
        using var letters = tensor(letterIds);                                          // (4) int64
        foreach (var q in questions)
        {
            using var scope = NewDisposeScope();
            var prompt = tokenizer.Encode(q.Prompt, addSpecialTokens: false).Select(i => (long)i).ToArray();
            var ids = tensor(prompt).unsqueeze(0);                                      // (1, T) int64
            var logits = model.Logits(ids);                                             // (1, T, V)
            var last = logits[0, -1].index_select(0, letters);                          // (4)
            if (last.argmax().item<long>() == q.AnswerIndex) correct++;
        }
        return new ChoiceAccuracy(questions.Count, correct);
    }
}
