namespace MoePrune.Evaluation.Tasks;

/// <summary>How a task is scored: by the log-likelihood of each choice, or by a greedy generation.</summary>
public enum TaskKind { MultipleChoice, Generate }

/// <summary>How an answer is read from a generation (<see cref="Generation.AnswerExtraction"/>).</summary>
public enum AnswerExtract { Letter, Exact, Number }

/// <summary>
/// One line of a task file. <see cref="Context"/> is the prompt; a demonstration shows it followed by
/// <see cref="TargetDelimiter"/> and <see cref="GoldText"/>; demonstrations are joined with
/// <see cref="FewshotDelimiter"/>. <see cref="Source"/> and <see cref="Line"/> name where it was read (for errors).
/// </summary>
public abstract record TaskDocument(string Id, string Context, string Split, string TargetDelimiter, string FewshotDelimiter,
                                    string Source, int Line)
{
    /// <summary>The answer a demonstration of this document shows.</summary>
    public abstract string GoldText { get; }

    public string Where => $"{Source}:{Line}";
}

/// <summary>A multiple-choice document: each choice is scored as the continuation <c>TargetDelimiter + choice</c>.</summary>
public sealed record MultipleChoiceDocument(string Id, string Context, string Split, string TargetDelimiter, string FewshotDelimiter,
                                            string Source, int Line, IReadOnlyList<string> Choices, int Gold)
    : TaskDocument(Id, Context, Split, TargetDelimiter, FewshotDelimiter, Source, Line)
{
    public override string GoldText => Choices[Gold];
}

/// <summary>
/// A generative document: greedy decoding until one of <see cref="Stop"/>, the end-of-sequence token or
/// <see cref="MaxNewTokens"/>; the answer read by <see cref="Extract"/> is compared with <see cref="Answers"/>.
/// <see cref="Letters"/> are the option letters that <see cref="AnswerExtract.Letter"/> accepts.
/// </summary>
public sealed record GenerativeDocument(string Id, string Context, string Split, string TargetDelimiter, string FewshotDelimiter,
                                        string Source, int Line, IReadOnlyList<string> Answers, IReadOnlyList<string> Stop,
                                        int MaxNewTokens, AnswerExtract Extract, string Letters)
    : TaskDocument(Id, Context, Split, TargetDelimiter, FewshotDelimiter, Source, Line)
{
    public override string GoldText => Answers[0];
}

/// <summary>A task: its name, where it was read from, its kind and every document in file order.</summary>
public sealed record EvalTask(string Name, string Source, TaskKind Kind, IReadOnlyList<TaskDocument> Documents)
{
    /// <summary>The documents that are scored: the <c>test</c> split.</summary>
    public IReadOnlyList<TaskDocument> Test => Documents.Where(d => d.Split == TaskSplits.Test).ToList();

    /// <summary>The <c>train</c> documents, the preferred source of demonstrations.</summary>
    public IReadOnlyList<TaskDocument> Train => Documents.Where(d => d.Split == TaskSplits.Train).ToList();
}

/// <summary>The split names a task document may carry.</summary>
public static class TaskSplits
{
    public const string Train = "train";
    public const string Validation = "validation";
    public const string Test = "test";
    public static readonly IReadOnlyList<string> All = [Train, Validation, Test];
}
