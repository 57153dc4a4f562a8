using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoePrune.Evaluation.Tasks;

/// <summary>
/// Reads a task file: JSONL, one document per line (blank lines skipped), all of one kind. A line with
/// <c>choices</c> is multiple choice, a line with <c>answers</c> is generative (docs/EVALUATION.md lists every
/// field). Strict: a line that is not a JSON object, a missing or mistyped field, an unknown field, a gold index out
/// of range, an empty choice list or a duplicate id is refused with one message naming the file and line.
/// </summary>
public static class TaskFile
{
    public const string DefaultTargetDelimiter = " ";
    public const string DefaultFewshotDelimiter = "\n\n";
    public const int DefaultMaxNewTokens = 32;
    public const string DefaultLetters = "ABCD";

    static readonly HashSet<string> Common = ["id", "context", "split", "target_delimiter", "fewshot_delimiter", "meta"];
    static readonly HashSet<string> ChoiceFields = ["choices", "gold"];
    static readonly HashSet<string> GenerateFields = ["answers", "stop", "max_new_tokens", "extract", "letters"];

    /// <summary>Reads <paramref name="path"/>; the task is named after the file (without <c>.jsonl</c>).</summary>
    /// <param name="requireTest">Refuse a file without test documents (false for training files: SFT).</param>
    public static EvalTask Read(string path, bool requireTest = true)
    {
        if (!File.Exists(path)) throw new MoePruneException($"{path}: task file not found");
        string name = Path.GetFileName(path);
        if (name.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)) name = name[..^6];
        return Parse(name, path, File.ReadLines(path), requireTest);
    }

    /// <summary>Parses the lines of a task; <paramref name="source"/> names it in errors.</summary>
    public static EvalTask Parse(string name, string source, IEnumerable<string> lines, bool requireTest = true)
    {
        var documents = new List<TaskDocument>();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNo = 0;
        foreach (string line in lines)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var doc = ParseLine(line, source, lineNo);
            if (documents.Count > 0 && doc.GetType() != documents[0].GetType())
                throw new MoePruneException($"{source}:{lineNo}: a {KindName(doc)} document in a task whose first document (line {documents[0].Line}) is {KindName(documents[0])}");
            if (!ids.TryAdd(doc.Id, lineNo))
                throw new MoePruneException($"{source}:{lineNo}: id \"{doc.Id}\" was already used on line {ids[doc.Id]}");
            documents.Add(doc);
        }
        if (documents.Count == 0) throw new MoePruneException($"{source}: no documents");
        var task = new EvalTask(name, source, documents[0] is MultipleChoiceDocument ? TaskKind.MultipleChoice : TaskKind.Generate, documents);
        if (requireTest && task.Test.Count == 0) throw new MoePruneException($"{source}: no document has split \"test\" (the split that is scored)");
        return task;
    }

    static string KindName(TaskDocument d) => d is MultipleChoiceDocument ? "multiple-choice" : "generative";

    static TaskDocument ParseLine(string line, string source, int lineNo)
    {
        string at = $"{source}:{lineNo}";
        JsonObject obj;
        try
        {
            obj = JsonNode.Parse(line) as JsonObject ?? throw new MoePruneException($"{at}: not a JSON object");
            _ = obj.Count;                                                     // duplicate keys surface here
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            throw new MoePruneException($"{at}: not valid JSON ({e.Message.Split('\n')[0]})", inner: e);
        }
        bool choice = obj.ContainsKey("choices"), generate = obj.ContainsKey("answers");
        if (choice == generate)
            throw new MoePruneException(choice ? $"{at}: has both \"choices\" and \"answers\"; a document is multiple choice or generative"
                                               : $"{at}: has neither \"choices\" (multiple choice) nor \"answers\" (generative)");
        var allowed = choice ? ChoiceFields : GenerateFields;
        foreach (var (key, _) in obj)
            if (!Common.Contains(key) && !allowed.Contains(key))
                throw new MoePruneException($"{at}: unknown field \"{key}\" in a {(choice ? "multiple-choice" : "generative")} document");

        string id = OptionalString(obj, "id", at) ?? $"line{lineNo}";
        string context = RequiredString(obj, "context", at);
        string split = OptionalString(obj, "split", at) ?? TaskSplits.Test;
        if (!TaskSplits.All.Contains(split)) throw new MoePruneException($"{at}: split \"{split}\" is not one of train, validation, test");
        string targetDelimiter = OptionalString(obj, "target_delimiter", at) ?? DefaultTargetDelimiter;
        string fewshotDelimiter = OptionalString(obj, "fewshot_delimiter", at) ?? DefaultFewshotDelimiter;

        if (choice)
        {
            var choices = StringArray(obj, "choices", at);
            if (choices.Count == 0) throw new MoePruneException($"{at}: \"choices\" is empty");
            for (int i = 0; i < choices.Count; i++)
                if (choices[i].Length == 0) throw new MoePruneException($"{at}: choice {i} is an empty string");
            int gold = RequiredInt(obj, "gold", at);
            if (gold < 0 || gold >= choices.Count) throw new MoePruneException($"{at}: gold {gold} is out of range for {choices.Count} choices (0..{choices.Count - 1})");
            return new MultipleChoiceDocument(id, context, split, targetDelimiter, fewshotDelimiter, source, lineNo, choices, gold);
        }

        var answers = StringArray(obj, "answers", at);
        if (answers.Count == 0) throw new MoePruneException($"{at}: \"answers\" is empty");
        var stop = obj.ContainsKey("stop") ? StringArray(obj, "stop", at) : [fewshotDelimiter];
        if (stop.Any(s => s.Length == 0)) throw new MoePruneException($"{at}: \"stop\" has an empty string");
        int maxNew = obj.ContainsKey("max_new_tokens") ? RequiredInt(obj, "max_new_tokens", at) : DefaultMaxNewTokens;
        if (maxNew < 1) throw new MoePruneException($"{at}: max_new_tokens {maxNew} must be at least 1");
        string extractName = OptionalString(obj, "extract", at) ?? "exact";
        var extract = extractName switch
        {
            "letter" => AnswerExtract.Letter,
            "exact" => AnswerExtract.Exact,
            "number" => AnswerExtract.Number,
            _ => throw new MoePruneException($"{at}: extract \"{extractName}\" is not one of letter, exact, number"),
        };
        string letters = OptionalString(obj, "letters", at) ?? DefaultLetters;
        if (letters.Length == 0 || !letters.All(char.IsAsciiLetterUpper) || letters.Distinct().Count() != letters.Length)
            throw new MoePruneException($"{at}: letters \"{letters}\" must be distinct upper-case letters A-Z");
        foreach (string answer in answers)
        {
            if (extract == AnswerExtract.Letter && (answer.Length != 1 || !letters.Contains(answer[0])))
                throw new MoePruneException($"{at}: answer \"{answer}\" is not one of the letters {letters}");
            if (extract == AnswerExtract.Number && Generation.AnswerExtraction.FirstNumber(answer) is null)
                throw new MoePruneException($"{at}: answer \"{answer}\" has no number");
        }
        return new GenerativeDocument(id, context, split, targetDelimiter, fewshotDelimiter, source, lineNo, answers, stop, maxNew, extract, letters);
    }

    static string RequiredString(JsonObject obj, string key, string at) =>
        OptionalString(obj, key, at) ?? throw new MoePruneException($"{at}: missing \"{key}\"");

    static string? OptionalString(JsonObject obj, string key, string at)
    {
        if (!obj.TryGetPropertyValue(key, out var node)) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String) return v.GetValue<string>();
        throw new MoePruneException($"{at}: \"{key}\" must be a string");
    }

    static int RequiredInt(JsonObject obj, string key, string at)
    {
        if (!obj.TryGetPropertyValue(key, out var node)) throw new MoePruneException($"{at}: missing \"{key}\"");
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out int i)) return i;
        if (node is JsonValue n && n.GetValueKind() == JsonValueKind.Number && n.TryGetValue<double>(out double d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue)
            return (int)d;
        throw new MoePruneException($"{at}: \"{key}\" must be an integer");
    }

    static List<string> StringArray(JsonObject obj, string key, string at)
    {
        if (obj[key] is not JsonArray array) throw new MoePruneException($"{at}: \"{key}\" must be an array of strings");
        var list = new List<string>(array.Count);
        foreach (var item in array)
        {
            if (item is JsonValue v && v.GetValueKind() == JsonValueKind.String) list.Add(v.GetValue<string>());
            else throw new MoePruneException($"{at}: \"{key}\" must be an array of strings");
        }
        return list;
    }
}
