using MoePrune.IO;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoePrune.Data.Tasks;

/// <summary>A built-in task: its name, kind (<c>multiple_choice</c> or <c>generate</c>), what it asks, and its chance level.</summary>
public sealed record BuiltinTaskInfo(string Name, string Type, string Description, double Chance);

/// <summary>
/// The built-in tasks, written as task JSONL (the format <c>Evaluation.Tasks.TaskFile</c> reads, docs/EVALUATION.md)
/// from held-out material only. Each of four question sets (<see cref="KnowledgeQuestions"/>,
/// <see cref="GenreQuestions"/>) is written in three forms with the same questions, options and ids:
/// <c>NAME</c> cloze multiple choice (each option scored as the completion of a plain sentence),
/// <c>NAME_letter</c> lettered multiple choice (the training mix's prompt up to <c>### Answer</c>, then <c>":\n" + letter</c>
/// scored for the four letters) and
/// <c>NAME_gen</c> the lettered prompt answered by greedy generation (the first stand-alone letter of the first
/// line). Every question has 4 options, so chance is 25% for each task.
/// </summary>
public static class BuiltinTasks
{
    static readonly (string Set, string What)[] Sets =
    [
        ("def2word", "held-out lemma's first WordNet definition → the lemma among 4 held-out lemmas of its part of speech"),
        ("word2def", "held-out lemma → its first definition among 4 held-out lemmas' definitions of its part of speech"),
        ("hypernym", "held-out noun or verb → the first lemma of its first WordNet hypernym among 4 held-out lemmas' hypernyms"),
        ("genre", "passage of a Brown test-split document (60-160 words) → its genre among 4 of the 15 Brown genres"),
    ];

    public static IReadOnlyList<BuiltinTaskInfo> All { get; } = Sets.SelectMany(s => new[]
    {
        new BuiltinTaskInfo(s.Set, "multiple_choice", $"cloze: {s.What}", 0.25),
        new BuiltinTaskInfo(s.Set + "_letter", "multiple_choice", $"lettered prompt, the 4 letters scored: {s.What}", 0.25),
        new BuiltinTaskInfo(s.Set + "_gen", "generate", $"lettered prompt, answer generated: {s.What}", 0.25),
    }).ToList();

    public static bool IsBuiltin(string name) => All.Any(t => t.Name == name);

    /// <summary>The JSONL lines of the named built-in tasks (each question set built once).</summary>
    public static Dictionary<string, List<string>> Lines(IEnumerable<string> names) =>
        Questions(names).ToDictionary(kv => kv.Key, kv => kv.Value.Lines);

    static Dictionary<string, (List<BuiltinQuestion> Questions, List<string> Lines)> Questions(IEnumerable<string> names)
    {
        var sets = new Dictionary<string, List<BuiltinQuestion>>();
        var result = new Dictionary<string, (List<BuiltinQuestion>, List<string>)>();
        foreach (string name in names)
        {
            var info = All.FirstOrDefault(t => t.Name == name) ?? throw new MoePruneException($"unknown built-in task '{name}'");
            string set = name.Split('_')[0];
            if (!sets.TryGetValue(set, out var questions)) sets[set] = questions = QuestionSet(set);
            string form = name.Length > set.Length ? name[(set.Length + 1)..] : "cloze";
            result[name] = (questions, questions.Select(q => Line(q, form).ToJsonString(Json)).ToList());
        }
        return result;
    }

    /// <summary>Writes every built-in task as <c>DIR/NAME.jsonl</c> and a <c>DIR/tasks.json</c> catalog (sizes, chance).</summary>
    public static JsonObject Write(string dir)
    {
        Directory.CreateDirectory(dir);
        var tasks = Questions(All.Select(t => t.Name));
        var catalog = new JsonObject();
        foreach (var info in All)
        {
            var (questions, lines) = tasks[info.Name];
            AtomicFile.WriteLines(Path.Combine(dir, info.Name + ".jsonl"), lines);
            int test = questions.Count(q => q.Split == "test");
            catalog[info.Name] = new JsonObject
            {
                ["type"] = info.Type, ["test"] = test, ["train"] = questions.Count - test,
                ["chance"] = info.Chance, ["description"] = info.Description,
            };
        }
        AtomicFile.WriteText(Path.Combine(dir, "tasks.json"), catalog.ToJsonString(Indented) + "\n");
        return catalog;
    }

    static List<BuiltinQuestion> QuestionSet(string set) => set switch
    {
        "def2word" => KnowledgeQuestions.DefinitionToWord(KnowledgeSet.Default),
        "word2def" => KnowledgeQuestions.WordToDefinition(KnowledgeSet.Default),
        "hypernym" => KnowledgeQuestions.Hypernym(KnowledgeSet.Default, WordNet.Load()),
        _ => GenreQuestions.Build(BrownCorpus.Load(), BrownSplits.Default),
    };

    static JsonObject Line(BuiltinQuestion q, string form) => form switch
    {
        "cloze" => new JsonObject
        {
            ["id"] = q.Id, ["context"] = q.ClozeContext, ["choices"] = Array(q.ClozeChoices), ["gold"] = q.Gold, ["split"] = q.Split,
        },
        "letter" => new JsonObject
        {
            ["id"] = q.Id, ["context"] = q.LetteredPrompt[..^LetterDelimiter.Length], ["choices"] = Array(InstructionTemplates.Letters),
            ["gold"] = q.Gold, ["split"] = q.Split, ["target_delimiter"] = LetterDelimiter,
        },
        _ => new JsonObject
        {
            ["id"] = q.Id, ["context"] = q.LetteredPrompt, ["answers"] = Array([InstructionTemplates.Letters[q.Gold]]), ["split"] = q.Split,
            ["target_delimiter"] = "", ["stop"] = Array(["\n"]), ["max_new_tokens"] = 4, ["extract"] = "letter",
            ["letters"] = string.Concat(InstructionTemplates.Letters),
        },
    };

    /// <summary>
    /// Where the lettered multiple-choice context stops: before the answer marker's colon, which the delimiter
    /// supplies. The default tokenizer (Qwen-style split) writes <c>":\n"</c> as ONE token, so a context ending after
    /// the newline would have lm-evaluation-harness's rule move the newline into the continuation and score the letter
    /// after a bare <c>":"</c>, a boundary the model never saw; ending at <c>"### Answer"</c> keeps both encodings
    /// token for token a prefix of each other.
    /// </summary>
    const string LetterDelimiter = ":\n";

    static JsonArray Array(IEnumerable<string> items) => new(items.Select(s => (JsonNode)s).ToArray());

    static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
