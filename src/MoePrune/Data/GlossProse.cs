namespace MoePrune.Data;

/// <summary>
/// Writes a knowledge-set entry's WordNet glosses as plain prose, one sentence per sense, with the first example
/// of the first sense. Patterns by part of speech (first sense / further senses):
/// <list type="bullet">
/// <item>noun: "A dog is {definition}." / "A dog can also be {definition}."</item>
/// <item>verb: "To run means to {definition}." / "To run can also mean to {definition}."</item>
/// <item>adjective: "To be big is to be {definition}." / "Big can also mean {definition}."</item>
/// <item>adverb: "Quickly means {definition}." / "Quickly can also mean {definition}."</item>
/// </list>
/// followed by <c>For example: "{example}".</c> when the first sense has an example that uses the word. The first
/// <see cref="ReversedSenses"/> senses are also written the other way round, definition first
/// (<see cref="Reverse"/>: <c>The noun that means "{definition}" is "dog".</c>), so that the text teaches
/// definition → word as well as word → definition (a model trained only on "A is B" does not learn "B is A").
/// </summary>
public static class GlossProse
{
    public static string Write(KnowledgeEntry entry)
    {
        var sentences = new List<string>();
        for (int i = 0; i < entry.Senses.Count; i++)
        {
            var sense = entry.Senses[i];
            sentences.Add(Sentence(entry.Lemma, entry.Pos, sense.Definition, first: i == 0));
            if (i < ReversedSenses) sentences.Add(Reverse(entry.Lemma, entry.Pos, sense.Definition));
            if (i == 0 && ExampleUsing(entry.Lemma, sense) is { } example) sentences.Add($"For example: \"{example}\".");
        }
        return string.Join(" ", sentences);
    }

    /// <summary>
    /// The first example of the sense that uses the word (its first letters: all but the last two, at least three),
    /// since WordNet's examples may illustrate a synonym instead ("engage": "She pursued many activities").
    /// </summary>
    public static string? ExampleUsing(string lemma, WordNetSynset sense)
    {
        string word = WordNet.Display(lemma);
        string stem = word[..Math.Min(word.Length, Math.Max(3, word.Length - 2))];
        return sense.Examples.FirstOrDefault(e => e.Contains(stem, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Senses per entry that are also written definition first.</summary>
    public const int ReversedSenses = 2;

    /// <summary>Definition first: <c>The verb that means "move fast" is "run".</c></summary>
    public static string Reverse(string lemma, WordNetPos pos, string definition) =>
        ReversePrefix(pos, definition) + WordNet.Display(lemma) + ReverseSuffix;

    /// <summary>The text of <see cref="Reverse"/> before the word: <c>The verb that means "move fast" is "</c>.</summary>
    public static string ReversePrefix(WordNetPos pos, string definition) =>
        $"The {InstructionTemplates.PosName(pos)} that means \"{definition.TrimEnd('.', ' ')}\" is \"";

    /// <summary>The text of <see cref="Reverse"/> after the word.</summary>
    public const string ReverseSuffix = "\".";

    public static string Sentence(string lemma, WordNetPos pos, string definition, bool first)
    {
        string word = WordNet.Display(lemma);
        string def = definition.TrimEnd('.', ' ');
        return pos switch
        {
            WordNetPos.Noun when first => $"{Capitalize(IndefiniteArticle(word))} {word} is {def}.",
            WordNetPos.Noun => $"{Capitalize(IndefiniteArticle(word))} {word} can also be {def}.",
            WordNetPos.Verb when first => $"To {word} means to {def}.",
            WordNetPos.Verb => $"To {word} can also mean to {def}.",
            WordNetPos.Adjective when first => $"To be {word} is to be {def}.",
            _ when first => $"{Capitalize(word)} means {def}.",
            _ => $"{Capitalize(word)} can also mean {def}.",
        };
    }

    /// <summary>"a" or "an" by the first letter, with the usual exceptions (an hour, a unit, a one-way street).</summary>
    public static string IndefiniteArticle(string word)
    {
        string w = word.ToLowerInvariant();
        if (SilentH.Any(p => w.StartsWith(p, StringComparison.Ordinal))) return "an";
        if (ConsonantSoundVowel.Any(p => w.StartsWith(p, StringComparison.Ordinal))) return "a";
        return w.Length > 0 && "aeiou".Contains(w[0]) ? "an" : "a";
    }

    static readonly string[] SilentH = ["hour", "honest", "honor", "honour", "heir"];
    static readonly string[] ConsonantSoundVowel = ["uni", "use", "usu", "uti", "eu", "one", "once", "ewe", "ukr", "ura", "uro"];

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];
}
