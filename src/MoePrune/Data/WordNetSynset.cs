namespace MoePrune.Data;

/// <summary>WordNet's four syntactic categories (adjective satellites <c>s</c> count as adjectives).</summary>
public enum WordNetPos { Noun, Verb, Adjective, Adverb }

public static class WordNetPosNames
{
    /// <summary>The file suffix: <c>noun</c>, <c>verb</c>, <c>adj</c>, <c>adv</c>.</summary>
    public static string FileSuffix(this WordNetPos pos) => pos switch
    {
        WordNetPos.Noun => "noun",
        WordNetPos.Verb => "verb",
        WordNetPos.Adjective => "adj",
        _ => "adv",
    };

    /// <summary>The letter used in the database (<c>n v a r</c>; <c>s</c> reads as an adjective).</summary>
    public static WordNetPos FromLetter(char c, string where) => c switch
    {
        'n' => WordNetPos.Noun,
        'v' => WordNetPos.Verb,
        'a' or 's' => WordNetPos.Adjective,
        'r' => WordNetPos.Adverb,
        _ => throw new MoePruneException($"{where}: unknown WordNet part of speech '{c}'"),
    };
}

/// <summary>
/// One WordNet synset: its byte offset in <c>data.{pos}</c> (the synset id within that file), its lemmas as written
/// in the database (multi-word lemmas use <c>_</c>), the gloss split into a definition and its quoted examples, and
/// the offsets of its hypernyms (<c>@</c> and instance <c>@i</c> pointers, same part of speech).
/// </summary>
public sealed record WordNetSynset(
    long Offset,
    WordNetPos Pos,
    IReadOnlyList<string> Lemmas,
    string Definition,
    IReadOnlyList<string> Examples,
    IReadOnlyList<long> HypernymOffsets)
{
    /// <summary>Lemmas with <c>_</c> written as spaces and adjective markers such as <c>(a)</c> removed.</summary>
    public IEnumerable<string> Words => Lemmas.Select(WordNet.Display);

    public override string ToString() => $"{Offset:D8}-{Pos.FileSuffix()} [{string.Join(", ", Lemmas)}] {Definition}";
}
