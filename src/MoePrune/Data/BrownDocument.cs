namespace MoePrune.Data;

/// <summary>One token of the tagged Brown corpus: the word as printed and its full Brown tag (e.g. <c>nn-tl</c>).</summary>
public readonly record struct TaggedWord(string Word, string Tag)
{
    /// <summary>The universal-style tag (see <see cref="UniversalTagset"/>).</summary>
    public UniversalTag Universal => UniversalTagset.Map(Tag);
}

/// <summary>A sentence: its tagged tokens in order.</summary>
public sealed record BrownSentence(IReadOnlyList<TaggedWord> Words)
{
    /// <summary>The sentence as plain text, tags stripped and detokenized.</summary>
    public string Text => BrownDetokenizer.Join(Words.Select(w => w.Word));
}

/// <summary>
/// One of the 500 Brown documents (about 2,000 words each): id such as <c>ca01</c>, genre, and paragraphs of
/// sentences as in the corpus files (paragraphs are blank-line separated blocks, sentences are lines).
/// </summary>
public sealed record BrownDocument(string Id, BrownGenre Genre, IReadOnlyList<IReadOnlyList<BrownSentence>> Paragraphs)
{
    public IEnumerable<BrownSentence> Sentences => Paragraphs.SelectMany(p => p);

    public int WordCount => Paragraphs.Sum(p => p.Sum(s => s.Words.Count));

    /// <summary>Plain text: one line per paragraph, each paragraph detokenized as one token stream.</summary>
    public string Text => string.Join("\n", Paragraphs.Select(BrownDetokenizer.Join));
}
