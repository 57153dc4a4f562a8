using MoePrune.Tokenization;

namespace MoePrune.Evaluation.LogLikelihood;

/// <summary>
/// The token ids of a context and of the continuation scored after it. <see cref="Merged"/>: the context's own
/// encoding is not a prefix of the encoding of context + continuation (a token spans the boundary), so the
/// continuation lost or changed tokens at its start (lm-evaluation-harness's rule scores it anyway).
/// </summary>
public sealed record ContinuationRequest(int[] Context, int[] Continuation, bool Merged = false);

/// <summary>
/// Tokenizes (context, continuation) pairs as lm-evaluation-harness's Hugging Face backend does: trailing
/// whitespace of the context moves to the front of the continuation; context + continuation is encoded as one
/// string and the continuation's tokens are what follows the length of the context's own encoding; the model reads
/// the context's own encoding followed by those tokens. No special tokens are added, except a BOS token in front of
/// the context with <c>addBos</c>. An empty context becomes the BOS token (the end-of-sequence token when the
/// tokenizer has no BOS), and the continuation is then encoded on its own.
/// </summary>
public sealed class ContinuationEncoder(HfTokenizer tokenizer, bool addBos = false)
{
    public HfTokenizer Tokenizer => tokenizer;
    public bool AddBos => addBos;

    public ContinuationRequest Encode(string context, string continuation)
    {
        if (context.Length == 0)
        {
            int prefix = (addBos ? BosOrThrow() : tokenizer.BosId ?? tokenizer.EosId)
                         ?? throw new MoePruneException($"{tokenizer.Source}: an empty context needs a BOS or EOS token to start from, and the tokenizer has neither");
            return new ContinuationRequest([prefix], Encode(continuation));
        }
        int kept = context.TrimEnd().Length;
        if (kept < context.Length)
        {
            continuation = context[kept..] + continuation;
            context = context[..kept];
        }
        var whole = Encode(context + continuation);
        var head = Encode(context);
        var tail = whole.Length > head.Length ? whole[head.Length..] : [];
        bool merged = whole.Length < head.Length || !whole.AsSpan(0, head.Length).SequenceEqual(head);
        return new ContinuationRequest(addBos ? [BosOrThrow(), .. head] : head, tail, merged);
    }

    /// <summary>The prompt of a generation: the context's encoding (with BOS when asked).</summary>
    public int[] EncodePrompt(string context)
    {
        var ids = Encode(context);
        if (addBos) return [BosOrThrow(), .. ids];
        if (ids.Length == 0)
            return [tokenizer.BosId ?? tokenizer.EosId ?? throw new MoePruneException($"{tokenizer.Source}: an empty prompt needs a BOS or EOS token to start from")];
        return ids;
    }

    int[] Encode(string text) => tokenizer.Encode(text, addSpecialTokens: false).ToArray();

    int BosOrThrow() => tokenizer.BosId ?? throw new MoePruneException($"--add-bos: {tokenizer.Source} has no BOS token");
}
