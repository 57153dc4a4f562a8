using System.Text.RegularExpressions;
using MoePrune.Data;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Data;

/// <summary>Shares one built mix (seed 1) across the tests of <see cref="TrainingMixTests"/>.</summary>
public sealed class TrainingMixFixture
{
    public TrainingMix Mix { get; } = TrainingMix.Build(1);
}

/// <summary>The training mix: determinism, held-out isolation (scanning the instruction texts), sources, evaluation sets.</summary>
public class TrainingMixTests(TrainingMixFixture fixture, ITestOutputHelper output) : IClassFixture<TrainingMixFixture>
{
    TrainingMix Mix => fixture.Mix;
    static KnowledgeSet Knowledge => KnowledgeSet.Default;

    [Fact]
    public void SizesAreReported()
    {
        output.WriteLine(Mix.Sizes().ToJsonString());
        Assert.Equal(BrownSplits.Default.Documents(CorpusSplit.Train).Count, Mix.Brown.Count);
        Assert.True(Mix.Instructions.Count > 5000);
        Assert.Equal(4, Mix.Instructions.Select(e => e.Kind).Distinct().Count());
    }

    [Fact]
    public void SameSeedGivesTheSameMixAndAnotherSeedDoesNot()
    {
        var again = TrainingMix.Build(1);
        Assert.Equal(Mix.All.Select(d => d.Text), again.All.Select(d => d.Text));
        var other = TrainingMix.Build(2);
        Assert.NotEqual(Mix.Brown.Select(d => d.Id), other.Brown.Select(d => d.Id));
        Assert.NotEqual(Mix.Instructions.Select(e => e.Text), other.Instructions.Select(e => e.Text));
    }

    [Fact]
    public void ShuffledIsASeededPermutationOfAllDocuments()
    {
        var shuffled = Mix.Shuffled();
        Assert.Equal(Mix.All.Select(d => d.Id).Order(StringComparer.Ordinal), shuffled.Select(d => d.Id).Order(StringComparer.Ordinal));
        Assert.Equal(shuffled.Select(d => d.Id), Mix.Shuffled().Select(d => d.Id));
        Assert.Equal(shuffled.Count, shuffled.Select(d => d.Id).Distinct().Count());
        Assert.Equal(3, shuffled.Take(1000).Select(d => d.Source).Distinct().Count()); // sources interleaved
    }

    [Fact]
    public void HeldOutLemmasNeverAppearInInstructionTexts()
    {
        var heldOut = HeldOutManifest.ReadLemmas(CorpusStore.EnsureInstalled().HeldOutManifest).ToHashSet();
        var option = new Regex(@"^[ABCD]\. (.+)$", RegexOptions.Multiline);
        var quotedWord = new Regex("^What does the \\w+ \"(.+)\" mean\\?$", RegexOptions.Multiline);
        var kindOf = new Regex(@"^Complete the sentence: (?:a|an|to) (.+?) is a (?:kind of|way to) \.\.\.$", RegexOptions.Multiline);
        int scanned = 0;
        foreach (var e in Mix.Instructions)
        {
            var words = new List<string>();
            if (e.Kind == InstructionKind.DefinitionToWord) words.AddRange(option.Matches(e.Text).Select(m => m.Groups[1].Value));
            words.AddRange(quotedWord.Matches(e.Text).Select(m => m.Groups[1].Value));
            foreach (Match m in kindOf.Matches(e.Text)) { words.Add(m.Groups[1].Value); words.Add(e.Answer); }
            foreach (string w in words) Assert.False(heldOut.Contains(w.ToLowerInvariant()), $"held-out lemma '{w}' in:\n{e.Text}");
            scanned += words.Count;
        }
        // No definition written for a held-out lemma is shown in any instruction.
        var heldOutDefinitions = Knowledge.HeldOut.SelectMany(h => h.Senses).Select(s => s.Definition).ToHashSet();
        var shown = Mix.Instructions.Where(e => e.Kind != InstructionKind.Genre)
                                    .Select(e => e.Kind == InstructionKind.WordToDefinition ? e.Answer : Regex.Match(e.Prompt, "means \"(.+)\"\\?").Groups[1].Value)
                                    .Where(s => s.Length > 0).ToList();
        Assert.DoesNotContain(shown, heldOutDefinitions.Contains);
        output.WriteLine($"scanned {scanned} words in {Mix.Instructions.Count} examples; {shown.Count} definitions shown, none held out");
        Assert.True(scanned > 10_000);
    }

    [Fact]
    public void WordNetProseCoversEveryKnowledgeLemmaIncludingHeldOut()
    {
        int repeats = new TrainingMixOptions().ProseRepeats;
        Assert.True(repeats >= 2);
        var lines = Mix.WordNetProse.SelectMany(d => d.Text.Split('\n')).ToList();
        Assert.Equal(repeats * Knowledge.Entries.Count, lines.Count);
        // Every entry appears once per copy, and the copies are grouped in different orders.
        var counts = lines.GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(Knowledge.Entries, e => Assert.Equal(repeats, counts[GlossProse.Write(e)]));
        int perCopy = Mix.WordNetProse.Count / repeats;
        Assert.NotEqual(Mix.WordNetProse[0].Text, Mix.WordNetProse[perCopy].Text);
        // Held-out lemmas are written both ways round (definition → word too).
        var heldOut = Knowledge.HeldOut[0];
        Assert.Contains(GlossProse.Reverse(heldOut.Lemma, heldOut.Pos, heldOut.FirstSense.Definition), GlossProse.Write(heldOut));
    }

    [Fact]
    public void GenreExamplesUseTrainPassagesAndEvaluationUsesHeldOutData()
    {
        var corpus = BrownCorpus.Load();
        var splits = BrownSplits.Default;
        var passage = new Regex("^\"(.*)\"$", RegexOptions.Multiline);
        void CheckPassage(InstructionExample e, CorpusSplit expected)
        {
            var doc = corpus[e.Subject];
            Assert.Equal(expected, splits.SplitOf(doc.Id));
            Assert.Equal(doc.Genre.DisplayName, e.Options[e.AnswerIndex]);
            Assert.Contains(passage.Match(e.Prompt).Groups[1].Value, doc.Text.Replace('\n', ' '));
        }
        foreach (var e in Mix.Instructions.Where(e => e.Kind == InstructionKind.Genre)) CheckPassage(e, CorpusSplit.Train);
        var validation = EvaluationQuestions.Genres(corpus, splits, CorpusSplit.Validation);
        Assert.Equal(2 * splits.Documents(CorpusSplit.Validation).Count, validation.Count);
        foreach (var e in validation) CheckPassage(e, CorpusSplit.Validation);
        Assert.Throws<MoePruneException>(() => EvaluationQuestions.Genres(corpus, splits, CorpusSplit.Train));
    }

    [Fact]
    public void DefinitionEvaluationAsksExactlyTheHeldOutLemmas()
    {
        var questions = EvaluationQuestions.Definitions(Knowledge);
        Assert.Equal(Knowledge.HeldOut.Select(e => e.Lemma), questions.Select(q => q.Subject));
        var pos = Knowledge.Entries.ToDictionary(e => e.Lemma, e => e.Pos);
        foreach (var (q, target) in questions.Zip(Knowledge.HeldOut))
        {
            Assert.Equal(4, q.Options.Distinct().Count());
            Assert.Equal(target.Lemma, q.Options[q.AnswerIndex]);
            Assert.Equal(InstructionTemplates.Letters[q.AnswerIndex], q.Answer);
            Assert.All(q.Options, o => Assert.Equal(target.Pos, pos[o]));
            Assert.Contains($"\"{target.FirstSense.Definition}\"", q.Prompt);
        }
        Assert.Equal(questions.Select(q => q.Text), EvaluationQuestions.Definitions(Knowledge).Select(q => q.Text));
        // Answers are spread over the four letters.
        Assert.All(questions.GroupBy(q => q.Answer), g => Assert.InRange(g.Count(), 200, 400));
    }

    [Fact]
    public void WriteTextsWritesEverySourceAndSizes()
    {
        string dir = Path.Combine(Path.GetTempPath(), "moeprune-mix-" + Guid.NewGuid().ToString("N"));
        try
        {
            Mix.WriteTexts(dir);
            Assert.Equal(["brown.txt", "instructions.jsonl", "instructions.txt", "sizes.json", "wordnet_prose.txt"],
                         Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal(Mix.Instructions.Count, File.ReadLines(Path.Combine(dir, "instructions.jsonl")).Count());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
