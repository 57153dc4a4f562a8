using Microsoft.ML.Tokenizers;

namespace MoePrune.Tokenization;

/// <summary>The BPE merge loop: given one pre-tokenized word, append its ids.</summary>
public interface IWordEncoder
{
    void Encode(string word, List<int> output);
}

/// <summary>
/// The byte-level BPE merge loop delegated to Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>, fed
/// words that MoePrune has already normalized, split and mapped to GPT-2 byte characters (so ML.NET's own
/// pre-tokenizer, normalizer and ByteLevel switch stay off: their splitting differs from the
/// tokenizer.json regexes). Opt-in (<c>HfTokenizer.Load(path, useMlNetBpe: true)</c>) for byte-level models
/// without byte fallback, continuing-subword prefix or end-of-word suffix (ML.NET 2.0 has no byte
/// fallback); the golden tests run it against the same reference ids as <see cref="BpeModel"/>.
/// </summary>
public sealed class MlNetBpeEncoder : IWordEncoder
{
    readonly BpeTokenizer _bpe;

    public MlNetBpeEncoder(BpeModel model)
    {
        var options = new BpeOptions(model.Vocab)
        {
            Merges = model.MergeStrings(),
            ByteLevel = false,
            PreTokenizer = new WholeWord(),
            Normalizer = null,
        };
        _bpe = BpeTokenizer.Create(options);
    }

    public void Encode(string word, List<int> output) =>
        output.AddRange(_bpe.EncodeToIds(word, considerPreTokenization: true, considerNormalization: false));

    /// <summary>Hands ML.NET the already pre-tokenized word as one piece (this keeps its word cache in play).</summary>
    sealed class WholeWord : PreTokenizer
    {
        public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => [(0, text.Length)];
        public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => [(0, text.Length)];
    }
}
