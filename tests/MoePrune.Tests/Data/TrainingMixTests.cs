using System.Text.RegularExpressions;
using MoePrune.Data;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Data;

/// <summary>Shares one built mix (seed 1) across the tests of <see cref="TrainingMixTests"/>.</summary>
public sealed class TrainingMixFixture
{
    public TrainingMix Mix { get; } = TrainingMix.Build(1);
    /// <summary>The mix with several lettered questions per lemma (<c>--definition-questions 6 --find-word-questions 3</c>).</summary>
    public TrainingMix Lettered { get; } = TrainingMix.Build(1, new TrainingMixOptions
    {
        Instructions = new InstructionOptions { DefinitionQuestionsPerLemma = 6, FindWordQuestionsPerLemma = 3 },
    });
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
        Assert.DoesNotContain(Mix.Instructions, e => e.Kind == InstructionKind.FindWord);    // off by default
        Assert.Equal(Enum.GetValues<InstructionKind>().Length, fixture.Lettered.Instructions.Select(e => e.Kind).Distinct().Count());
        // The same seed draws the same Brown documents and prose whatever the instruction options.
        Assert.Equal(Mix.Brown.Concat(Mix.WordNetProse).Select(d => d.Text), fixture.Lettered.Brown.Concat(fixture.Lettered.WordNetProse).Select(d => d.Text));
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
        var quotedWord = new Regex("^(?:What does the \\w+ \"(.+)\" mean|Which option is the \\w+ (.+))\\?$", RegexOptions.Multiline);
        var kindOf = new Regex(@"^Complete the sentence: (?:a|an|to) (.+?) is a (?:kind of|way to) \.\.\.$", RegexOptions.Multiline);
        int scanned = 0;
        foreach (var e in Mix.Instructions.Concat(fixture.Lettered.Instructions))
        {
            var words = new List<string>();
            if (e.Kind is InstructionKind.DefinitionToWord or InstructionKind.FindWord) words.AddRange(option.Matches(e.Text).Select(m => m.Groups[1].Value));
            words.AddRange(quotedWord.Matches(e.Text).Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value));
            foreach (Match m in kindOf.Matches(e.Text)) { words.Add(m.Groups[1].Value); words.Add(e.Answer); }
            foreach (string w in words) Assert.False(heldOut.Contains(w.ToLowerInvariant()), $"held-out lemma '{w}' in:\n{e.Text}");
            scanned += words.Count;
        }
        // No definition written for a held-out lemma is shown in any instruction.
        var heldOutDefinitions = Knowledge.HeldOut.SelectMany(h => h.Senses).Select(s => s.Definition).ToHashSet();
        var shown = Mix.Instructions.Concat(fixture.Lettered.Instructions).Where(e => e.Kind != InstructionKind.Genre)
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
            Assert.All(q.Options, o => Assert.True(Knowledge.IsHeldOut(o), $"option '{o}' of the question about '{target.Lemma}' is not held out"));
            Assert.Contains($"\"{target.FirstSense.Definition}\"", q.Prompt);
        }
        Assert.Equal(questions.Select(q => q.Text), EvaluationQuestions.Definitions(Knowledge).Select(q => q.Text));
        // Answers are spread over the four letters.
        Assert.All(questions.GroupBy(q => q.Answer), g => Assert.InRange(g.Count(), 200, 400));
    }

    [Fact]
    public void EachTrainableLemmaGetsSeveralLetteredQuestionsAlternatingSenses()
    {
        const int perLemma = 6;
        var entries = Knowledge.Trainable.ToDictionary(e => e.Lemma);
        WordNetPos entriesPos(string lemma) => entries[lemma].Pos;
        var byLemma = fixture.Lettered.Instructions.Where(e => e.Kind == InstructionKind.DefinitionToWord).GroupBy(e => e.Subject).ToList();
        Assert.All(byLemma, g => Assert.Equal(perLemma, g.Count()));
        // The default mix (the shipped model's) asks one question per lemma, about its first sense.
        Assert.All(Mix.Instructions.Where(e => e.Kind == InstructionKind.DefinitionToWord).GroupBy(e => e.Subject), g => Assert.Single(g));
        Assert.Equal(byLemma.Count, Mix.Instructions.Count(e => e.Kind == InstructionKind.DefinitionToWord));
        // Find-the-word questions name their answer, 3 per lemma.
        var find = fixture.Lettered.Instructions.Where(e => e.Kind == InstructionKind.FindWord).ToList();
        Assert.Equal(3 * byLemma.Count, find.Count);
        Assert.All(find, e => Assert.Contains($"Which option is the {InstructionTemplates.PosName(entriesPos(e.Subject))} {WordNet.Display(e.Subject)}?\n", e.Prompt));
        Assert.All(find, e => Assert.Equal(WordNet.Display(e.Subject), e.Options[e.AnswerIndex]));
        Assert.All(byLemma, g => Assert.Equal(g.Key, g.First().Options[g.First().AnswerIndex]));
        // A lemma with two trainable senses is asked about both, in equal numbers.
        var definition = new Regex("means \"(.+)\"\\?");
        int twoSense = 0;
        foreach (var g in byLemma)
        {
            var senses = entries[g.Key].Senses.Where(s => !Knowledge.IsHeldOutSense(s)).Take(2).Select(s => s.Definition).ToList();
            var asked = g.Select(e => definition.Match(e.Prompt).Groups[1].Value).ToList();
            Assert.All(asked, d => Assert.Contains(d, senses));
            if (senses.Count == 2 && senses[0] != senses[1])
            {
                twoSense++;
                Assert.Equal(perLemma / 2, asked.Count(d => d == senses[0]));
            }
        }
        Assert.True(twoSense > 500, $"{twoSense} lemmas with two senses");
        // Different distractors or letters across a lemma's questions, and letters spread evenly overall.
        Assert.True(byLemma.Count(g => g.Select(e => e.Text).Distinct().Count() == perLemma) > byLemma.Count * 9 / 10);
        int total = byLemma.Sum(g => g.Count());
        var letters = fixture.Lettered.Instructions.Where(e => e.Kind == InstructionKind.DefinitionToWord).GroupBy(e => e.Answer).ToList();
        Assert.Equal(4, letters.Count);
        Assert.All(letters, g => Assert.InRange(g.Count(), total * 0.23, total * 0.27));
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
