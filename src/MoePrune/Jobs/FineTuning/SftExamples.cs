using MoePrune.Evaluation.LogLikelihood;
using MoePrune.Evaluation.Tasks;
using MoePrune.Tokenization;
using MoePrune.Training;

namespace MoePrune.Jobs.FineTuning;

/// <summary>
/// Supervised examples from a task file (docs/EVALUATION.md): its <c>train</c> documents, or every document when it has
/// none; each is the context and the answer a demonstration would show (<c>target_delimiter</c> + the gold choice, or +
/// the first accepted answer followed by the first stop string, so a generative task also learns where to stop),
/// tokenized as the evaluation harness scores the document: a multiple-choice answer by lm-evaluation-harness's rule
/// (<see cref="ContinuationEncoder.Encode"/>), a generative one after the prompt exactly as generation reads it
/// (<see cref="AfterPrompt"/>). A context longer than the sequence allows loses tokens on the left.
/// </summary>
public sealed record SftExamples(IReadOnlyList<PromptAnswer> Examples, string Split, int PadId)
{
    public static SftExamples Read(string file, string tokenizerDir, int sequenceLength, int vocabSize)
    {
        var task = TaskFile.Read(file, requireTest: false);
        var documents = task.Train.Count > 0 ? task.Train : task.Documents;
        var encoder = new ContinuationEncoder(HfTokenizer.Load(tokenizerDir));
        var examples = new List<PromptAnswer>();
        foreach (var doc in documents)
        {
            string answer = doc.TargetDelimiter + doc.GoldText + (doc is GenerativeDocument g && g.Stop.Count > 0 ? g.Stop[0] : "");
            var encoded = doc is GenerativeDocument ? AfterPrompt(encoder, doc.Context, answer) : encoder.Encode(doc.Context, answer);
            if (encoded.Continuation.Length == 0)
                throw new MoePruneException($"{doc.Where}: the answer \"{answer}\" gives no token after the context");
            if (encoded.Continuation.Length >= sequenceLength)
                throw new MoePruneException($"{doc.Where}: the answer has {encoded.Continuation.Length} tokens, no room for the context in sequences of {sequenceLength}");
            var context = encoded.Context.Length + encoded.Continuation.Length > sequenceLength
                ? encoded.Context[^(sequenceLength - encoded.Continuation.Length)..] : encoded.Context;
            if (context.Concat(encoded.Continuation).FirstOrDefault(id => id >= vocabSize, -1) is int bad and >= 0)
                throw new MoePruneException($"{doc.Where}: token id {bad} is outside the model's vocabulary of {vocabSize}");
            examples.Add(new PromptAnswer(context, encoded.Continuation));
        }
        if (examples.Count == 0) throw new MoePruneException($"{file}: no documents to train on");
        return new SftExamples(examples, task.Train.Count > 0 ? TaskSplits.Train : "all", encoder.Tokenizer.EosId ?? 0);
    }

    /// <summary>
    /// A generative document as generation sees it: the prompt exactly as <see cref="ContinuationEncoder.EncodePrompt"/>
    /// encodes it (trailing white space kept), then the tokens prompt + answer adds after it (the answer encoded alone
    /// when a token would span the boundary).
    /// </summary>
    public static ContinuationRequest AfterPrompt(ContinuationEncoder encoder, string context, string answer)
    {
        var prompt = encoder.EncodePrompt(context);
        var whole = encoder.Tokenizer.Encode(context + answer, addSpecialTokens: false).ToArray();
        int offset = encoder.AddBos ? 1 : 0;
        bool prefix = whole.Length >= prompt.Length - offset && whole.AsSpan(0, prompt.Length - offset).SequenceEqual(prompt.AsSpan(offset));
        return prefix
            ? new ContinuationRequest(prompt, whole[(prompt.Length - offset)..])
            : new ContinuationRequest(prompt, encoder.Tokenizer.Encode(answer, addSpecialTokens: false).ToArray(), Merged: true);
    }
}
