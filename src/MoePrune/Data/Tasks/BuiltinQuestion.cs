using System.Text;

namespace MoePrune.Data.Tasks;

/// <summary>
/// One question of a built-in task in its two wordings: the cloze form (a sentence start and the completions to
/// score, after a space) and the lettered form of the training mix's templates (the prompt ends after the answer
/// marker; the options in the same order, so <see cref="Gold"/> is the right option in both). <see cref="Split"/>
/// is <c>test</c> for scored questions and <c>train</c> for questions kept only as demonstrations.
/// </summary>
public sealed record BuiltinQuestion(string Id, string ClozeContext, IReadOnlyList<string> ClozeChoices, string LetteredPrompt,
                                     IReadOnlyList<string> Options, int Gold, string Split = "test")
{
    /// <summary>
    /// A lettered prompt in the training mix's layout (<see cref="InstructionTemplates"/>): the question marker, the
    /// question, the options <c>A. …</c> to <c>D. …</c>, the answer marker.
    /// </summary>
    public static string Lettered(string question, IReadOnlyList<string> options)
    {
        if (options.Count != InstructionTemplates.Letters.Count)
            throw new ArgumentException($"expected {InstructionTemplates.Letters.Count} options, got {options.Count}", nameof(options));
        var sb = new StringBuilder();
        sb.Append(InstructionTemplates.QuestionMarker).Append('\n').Append(question).Append('\n');
        for (int i = 0; i < options.Count; i++) sb.Append(InstructionTemplates.Letters[i]).Append(". ").Append(options[i]).Append('\n');
        return sb.Append(InstructionTemplates.AnswerMarker).Append('\n').ToString();
    }

    /// <summary>The question line of a training-mix prompt (the line after the question marker).</summary>
    public static string QuestionLine(InstructionExample example) => example.Prompt.Split('\n')[1];
}
