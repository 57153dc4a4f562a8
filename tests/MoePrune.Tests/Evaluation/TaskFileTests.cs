using MoePrune.Evaluation.Tasks;
using MoePrune.Tests.IO;
using Xunit;

namespace MoePrune.Tests.Evaluation;

/// <summary>Task files: both kinds parsed with their defaults; each kind of bad line refused with its file and line.</summary>
public sealed class TaskFileTests
{
    const string Good = """{"id": "a", "context": "c", "choices": ["x", "y"], "gold": 1}""";

    static string Error(params string[] lines) =>
        Assert.Throws<MoePruneException>(() => TaskFile.Parse("t", "t.jsonl", lines)).Message;

    [Fact]
    public void BothKindsParseWithTheirDefaults()
    {
        var mc = TaskFile.Parse("t", "t.jsonl", [Good, "", """{"context": "d", "choices": ["z"], "gold": 0, "split": "train", "meta": {"any": 1}}"""]);
        Assert.Equal(TaskKind.MultipleChoice, mc.Kind);
        var a = (MultipleChoiceDocument)mc.Documents[0];
        Assert.Equal((" ", "\n\n", "test", 1, 1), (a.TargetDelimiter, a.FewshotDelimiter, a.Split, a.Gold, a.Line));
        Assert.Equal("line3", mc.Documents[1].Id);
        Assert.Single(mc.Test);
        Assert.Single(mc.Train);

        var gen = TaskFile.Parse("g", "g.jsonl", ["""{"id": "q", "context": "2+2=", "answers": ["4"], "extract": "number"}"""]);
        var g = (GenerativeDocument)gen.Documents[0];
        Assert.Equal(TaskKind.Generate, gen.Kind);
        Assert.Equal(["\n\n"], g.Stop);                          // the few-shot delimiter by default
        Assert.Equal((32, AnswerExtract.Number, "ABCD"), (g.MaxNewTokens, g.Extract, g.Letters));
    }

    [Fact]
    public void BadLinesNameTheFileAndLine()
    {
        Assert.StartsWith("t.jsonl:2: not valid JSON", Error(Good, "{not json"));
        Assert.Equal("t.jsonl:1: not a JSON object", Error("[1, 2]"));
        Assert.Equal("t.jsonl:1: missing \"context\"", Error("""{"choices": ["x"], "gold": 0}"""));
        Assert.Equal("t.jsonl:1: missing \"gold\"", Error("""{"context": "c", "choices": ["x"]}"""));
        Assert.Equal("t.jsonl:1: gold 2 is out of range for 2 choices (0..1)", Error("""{"context": "c", "choices": ["x", "y"], "gold": 2}"""));
        Assert.Equal("t.jsonl:1: gold -1 is out of range for 2 choices (0..1)", Error("""{"context": "c", "choices": ["x", "y"], "gold": -1}"""));
        Assert.Equal("t.jsonl:1: \"choices\" is empty", Error("""{"context": "c", "choices": [], "gold": 0}"""));
        Assert.Equal("t.jsonl:1: choice 1 is an empty string", Error("""{"context": "c", "choices": ["x", ""], "gold": 0}"""));
        Assert.Equal("t.jsonl:1: \"gold\" must be an integer", Error("""{"context": "c", "choices": ["x"], "gold": "0"}"""));
        Assert.Equal("t.jsonl:1: unknown field \"label\" in a multiple-choice document", Error("""{"context": "c", "choices": ["x"], "gold": 0, "label": 1}"""));
        Assert.Equal("t.jsonl:1: has neither \"choices\" (multiple choice) nor \"answers\" (generative)", Error("""{"context": "c"}"""));
        Assert.Equal("t.jsonl:2: id \"a\" was already used on line 1", Error(Good, Good));
        Assert.Equal("t.jsonl:2: a generative document in a task whose first document (line 1) is multiple-choice",
                     Error(Good, """{"context": "c", "answers": ["x"]}"""));
        Assert.Equal("t.jsonl:1: answer \"E\" is not one of the letters ABCD", Error("""{"context": "c", "answers": ["E"], "extract": "letter"}"""));
        Assert.Equal("t.jsonl:1: extract \"regex\" is not one of letter, exact, number", Error("""{"context": "c", "answers": ["x"], "extract": "regex"}"""));
        Assert.Equal("t.jsonl:1: split \"dev\" is not one of train, validation, test", Error("""{"context": "c", "choices": ["x"], "gold": 0, "split": "dev"}"""));
        Assert.Equal("t.jsonl: no document has split \"test\" (the split that is scored)", Error("""{"context": "c", "choices": ["x"], "gold": 0, "split": "train"}"""));
        Assert.Equal("t.jsonl: no documents", Error("", "  "));
    }

    [Fact]
    public void UnknownTaskNamesAndMissingFilesAreRefused()
    {
        var e = Assert.Throws<MoePruneException>(() => TaskCatalog.Load(["no_such_task"]));
        Assert.StartsWith("--tasks: unknown task 'no_such_task': not a file and not a built-in task (def2word,", e.Message);
        using var tmp = new TempDir();
        Assert.Equal($"{tmp["missing.jsonl"]}: task file not found", Assert.Throws<MoePruneException>(() => TaskCatalog.Load([tmp["missing.jsonl"]])).Message);
        File.WriteAllText(tmp["mine.jsonl"], Good + "\n");
        var task = Assert.Single(TaskCatalog.Load([tmp["mine.jsonl"]]));
        Assert.Equal("mine", task.Name);
    }
}
