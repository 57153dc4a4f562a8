using System.Text;
using MoePrune.Data;
using MoePrune.Tokenization;

namespace MoePrune.Evaluation;

/// <summary>Token ids of a piece of Brown text and, per token, the universal POS tag (as int) of its word or −1.</summary>
public sealed record TaggedTokens(int[] Ids, int[] Tags);

/// <summary>
/// Aligns the byte-level BPE tokens of a Brown document's text (<see cref="BrownDocument.Text"/>, exactly as
/// training and evaluation tokenize it) with the tagged words it was written from. Each word's characters are
/// known from <see cref="BrownDetokenizer.Join(IEnumerable{string}, out int[])"/>; each token's bytes follow from
/// its vocabulary string (one character per byte in byte-level BPE). A token takes the tag of the word holding its
/// first byte that is not white space (" the" → "the"); a token of white space only, or one outside every word,
/// gets −1. A token that spans two words (<c>."</c>) takes the first.
/// </summary>
public static class BrownTokenTags
{
    public const int NoTag = -1;

    public static TaggedTokens Align(HfTokenizer tokenizer, BrownDocument document)
    {
        if (!tokenizer.IsLossless)
            throw new MoePruneException($"{tokenizer.Source}: aligning tokens with Brown words needs a lossless byte-level BPE tokenizer");
        // The text, paragraph by paragraph as BrownDocument.Text joins them, and every word's character span.
        var sb = new StringBuilder();
        var spans = new List<(int Start, int End, int Tag)>();
        for (int p = 0; p < document.Paragraphs.Count; p++)
        {
            if (p > 0) sb.Append('\n');
            var words = document.Paragraphs[p].SelectMany(s => s.Words).ToList();
            string text = BrownDetokenizer.Join(words.Select(w => w.Word), out var starts);
            for (int w = 0; w < words.Count; w++)
                if (starts[w] >= 0)
                    spans.Add((sb.Length + starts[w], sb.Length + starts[w] + BrownDetokenizer.Render(words[w].Word).Length, (int)words[w].Universal));
            sb.Append(text);
        }
        string full = sb.ToString();

        // Tag of every UTF-8 byte of the text.
        var bytes = Encoding.UTF8.GetBytes(full);
        var byteOfChar = new int[full.Length + 1];                                   // char index → first byte
        for (int i = 0; i < full.Length; i++)
            byteOfChar[i + 1] = byteOfChar[i] + (char.IsSurrogate(full[i]) ? 2 : full[i] < 0x80 ? 1 : full[i] < 0x800 ? 2 : 3);
        var byteTag = new int[bytes.Length];
        Array.Fill(byteTag, NoTag);
        foreach (var (start, end, tag) in spans)
            for (int b = byteOfChar[start]; b < byteOfChar[end]; b++) byteTag[b] = tag;

        var ids = tokenizer.Encode(full, addSpecialTokens: false).ToArray();
        var tags = new int[ids.Length];
        int position = 0;
        for (int t = 0; t < ids.Length; t++)
        {
            int length = tokenizer.TokenOf(ids[t])?.Length
                         ?? throw new MoePruneException($"{tokenizer.Source}: token id {ids[t]} has no vocabulary string");
            tags[t] = NoTag;
            for (int b = position; b < position + length && b < bytes.Length; b++)
                if (!IsSpace(bytes[b])) { tags[t] = byteTag[b]; break; }
            position += length;
        }
        if (position != bytes.Length)
            throw new MoePruneException($"{tokenizer.Source}: tokens of Brown document {document.Id} cover {position} bytes, the text has {bytes.Length}");
        return new TaggedTokens(ids, tags);
    }

    static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r';
}
