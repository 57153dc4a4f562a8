using System.Text;

namespace MoePrune.Data;

public enum InstructionKind { DefinitionToWord, WordToDefinition, Hypernym, Genre, FindWord }

/// <summary>
/// One instruction-formatted example (training) or question (evaluation). <see cref="Subject"/> is the lemma asked
/// about, or the Brown document id of a genre passage. <see cref="Prompt"/> ends right after the
/// answer marker line, so a model is scored on (or trained to produce) <see cref="Answer"/>. Multiple-choice kinds
/// carry their <see cref="Options"/> and the index of the right one; the answer is its letter.
/// </summary>
public sealed record InstructionExample(
    InstructionKind Kind, string Subject, string Prompt, string Answer, IReadOnlyList<string> Options, int AnswerIndex)
{
    public string Text => Prompt + Answer;
    public bool IsMultipleChoice => Options.Count > 0;
}

/// <summary>
/// The FIXED templates shared by the training mix and the evaluation harness. An example reads
/// <code>
/// ### Question:
/// Which noun means "a member of the genus Canis"?
/// A. cat
/// B. dog
/// C. tree
/// D. house
/// ### Answer:
/// B
/// </code>
/// <see cref="Markers"/> lists the plain-text markers so a tokenizer trainer can keep them as single tokens.
/// </summary>
public static class InstructionTemplates
{
    public const string QuestionMarker = "### Question:";
    public const string AnswerMarker = "### Answer:";
    public static readonly IReadOnlyList<string> Markers = [QuestionMarker, AnswerMarker];
    public static readonly IReadOnlyList<string> Letters = ["A", "B", "C", "D"];

    /// <summary>(1) definition → word, 4 options, answered with a letter.</summary>
    public static InstructionExample DefinitionToWord(string definition, WordNetPos pos, IReadOnlyList<string> words, int answerIndex) =>
        MultipleChoice(InstructionKind.DefinitionToWord, words[answerIndex],
            $"Which {PosName(pos)} means \"{definition}\"?", words.Select(WordNet.Display).ToList(), answerIndex);

    /// <summary>
    /// (5) find a named word among 4 options, answered with a letter: the lettered format with the matching step
    /// made trivial, so that a small model learns to copy the letter of the option that fits (the last step of
    /// every lettered question) from a cheap, unambiguous signal. The word is not quoted, so that it is written
    /// with the same tokens as in its option line (a byte-level BPE gives <c>"land</c> and <c> land</c> different ids).
    /// </summary>
    public static InstructionExample FindWord(WordNetPos pos, IReadOnlyList<string> words, int answerIndex) =>
        MultipleChoice(InstructionKind.FindWord, words[answerIndex],
            $"Which option is the {PosName(pos)} {WordNet.Display(words[answerIndex])}?", words.Select(WordNet.Display).ToList(), answerIndex);

    /// <summary>(2) word → definition, answered with the definition.</summary>
    public static InstructionExample WordToDefinition(string word, WordNetPos pos, string definition) =>
        Open(InstructionKind.WordToDefinition, word, $"What does the {PosName(pos)} \"{WordNet.Display(word)}\" mean?", definition);

    /// <summary>(3) hypernym: "a dog is a kind of ..." (nouns) or "to run is a way to ..." (verbs), answered with the hypernym.</summary>
    public static InstructionExample Hypernym(string word, WordNetPos pos, string hypernym)
    {
        string w = WordNet.Display(word);
        string stem = pos == WordNetPos.Verb ? $"to {w} is a way to ..." : $"{GlossProse.IndefiniteArticle(w)} {w} is a kind of ...";
        return Open(InstructionKind.Hypernym, word, $"Complete the sentence: {stem}", WordNet.Display(hypernym));
    }

    /// <summary>(4) genre of a Brown passage among 4 genre names, answered with a letter; the subject is the document id.</summary>
    public static InstructionExample Genre(string passage, IReadOnlyList<BrownGenre> genres, int answerIndex, string documentId) =>
        MultipleChoice(InstructionKind.Genre, documentId,
            $"Which kind of text is this passage from?\n\"{passage}\"", genres.Select(g => g.DisplayName).ToList(), answerIndex);

    static InstructionExample MultipleChoice(InstructionKind kind, string subject, string question, IReadOnlyList<string> options, int answerIndex)
    {
        if (options.Count != Letters.Count) throw new ArgumentException($"expected {Letters.Count} options, got {options.Count}", nameof(options));
        var sb = new StringBuilder();
        sb.Append(QuestionMarker).Append('\n').Append(question).Append('\n');
        for (int i = 0; i < options.Count; i++) sb.Append(Letters[i]).Append(". ").Append(options[i]).Append('\n');
        sb.Append(AnswerMarker).Append('\n');
        return new InstructionExample(kind, subject, sb.ToString(), Letters[answerIndex], options, answerIndex);
    }

    static InstructionExample Open(InstructionKind kind, string subject, string question, string answer) =>
        new(kind, subject, $"{QuestionMarker}\n{question}\n{AnswerMarker}\n", answer, [], -1);

    public static string PosName(WordNetPos pos) => pos switch
    {
        WordNetPos.Noun => "noun",
        WordNetPos.Verb => "verb",
        WordNetPos.Adjective => "adjective",
        _ => "adverb",
    };
}
