using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using MoePrune.Data;
using MoePrune.IO;

namespace MoePrune.Studies.Lottery;

/// <summary>
/// The SFT file of the instruction-following test: lettered definition → word questions about NON-held-out lemmas
/// (<see cref="InstructionBuilder"/>, the training mix's template and question kind, drawn with another seed so the
/// distractors and letters differ from the pretraining examples), as generative <c>train</c> documents in the form of
/// the built-in <c>def2word_gen</c> task: the prompt up to <c>### Answer:\n</c>, the answer letter, stop <c>\n</c>. The
/// scored questions (held-out lemmas) never appear.
/// </summary>
public static class SftTaskFile
{
    public const long Seed = 7;

    public static string Write(string path, int examples)
    {
        var knowledge = KnowledgeSet.Default;
        var options = new InstructionOptions { WordToDefinition = false, Hypernyms = false, GenrePassagesPerDocument = 0 };
        var questions = InstructionBuilder.Build(knowledge, WordNet.Load(), BrownCorpus.Load(), BrownSplits.Default, Seed, options)
            .Where(q => q.Kind == InstructionKind.DefinitionToWord && !knowledge.IsHeldOut(q.Subject)).Take(examples).ToList();
        var json = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var lines = questions.Select((q, i) => new JsonObject
        {
            ["id"] = $"sft{i}", ["context"] = q.Prompt, ["answers"] = new JsonArray(q.Answer), ["split"] = "train",
            ["target_delimiter"] = "", ["stop"] = new JsonArray("\n"), ["max_new_tokens"] = 4, ["extract"] = "letter",
            ["meta"] = new JsonObject { ["lemma"] = q.Subject },
        }.ToJsonString(json));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        AtomicFile.WriteLines(path, lines);
        return path;
    }
}
