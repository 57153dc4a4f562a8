using MoePrune.Data;
using MoePrune.Models;
using MoePrune.Tokenization;
using static TorchSharp.torch;

namespace MoePrune.Evaluation;

/// <summary>
/// The cloze form of the definition → word questions (the "CF" formulation of multiple-choice evaluation, next to
/// the lettered "MCF" one of <see cref="DefinitionAccuracy"/>): each of the four options is scored by the
/// log-likelihood of the sentence the knowledge prose writes definition first
/// (<see cref="GlossProse.Reverse"/>: <c>The noun that means "…" is "dog".</c>) given the text before the word;
/// the most likely option is the model's answer. It tells whether a model knows the facts, apart from whether it
/// can answer in the lettered format. Chance is 25%.
/// </summary>
public static class DefinitionCloze
{
    public static ChoiceAccuracy Evaluate(MoeForCausalLM model, HfTokenizer tokenizer, IReadOnlyList<InstructionExample> questions, KnowledgeSet knowledge)
    {
        var entries = knowledge.Entries.ToDictionary(e => e.Lemma);
        int correct = 0;
        foreach (var q in questions)
        {
            var entry = entries[q.Subject];
            string prefix = GlossProse.ReversePrefix(entry.Pos, entry.FirstSense.Definition);
            var scores = q.Options.Select(o => ContinuationLogLikelihood(model, tokenizer, prefix, o + GlossProse.ReverseSuffix)).ToArray();
            if (Array.IndexOf(scores, scores.Max()) == q.AnswerIndex) correct++;
        }
        return new ChoiceAccuracy(questions.Count, correct);
    }

    /// <summary>
    /// Σ log p(token) over the tokens of <c>prefix + continuation</c> after the longest run of tokens it shares with
    /// the encoding of <paramref name="prefix"/> alone (one forward, natural log).
    /// </summary>
    public static double ContinuationLogLikelihood(MoeForCausalLM model, HfTokenizer tokenizer, string prefix, string continuation)
    {
        var head = tokenizer.Encode(prefix, addSpecialTokens: false);
        var all = tokenizer.Encode(prefix + continuation, addSpecialTokens: false);
        int shared = 0;
        while (shared < head.Count && shared < all.Count && head[shared] == all[shared]) shared++;
        shared = Math.Max(1, shared);                                                   // the first token has no prediction
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var ids = tensor(all.Select(i => (long)i).ToArray()).unsqueeze(0);              // (1, T) int64
        var logProbs = model.Logits(ids)[0].to(ScalarType.Float32).log_softmax(-1);     // (T, V) fp32
        var targets = ids[0].narrow(0, shared, all.Count - shared);                     // (T − s) int64
        var picked = logProbs.narrow(0, shared - 1, all.Count - shared)                 // (T − s, V)
                             .gather(1, targets.unsqueeze(1));                          // (T − s, 1)
        return picked.to(ScalarType.Float64).sum().item<double>();
    }
}
