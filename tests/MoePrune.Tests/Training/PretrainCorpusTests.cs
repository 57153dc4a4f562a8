using System.Text.RegularExpressions;
using MoePrune.Data;
using MoePrune.Training;
using MoePrune.Training.Pretrain;
using Xunit;

namespace MoePrune.Tests.Training;

/// <summary>The work folder's cached tokenizer and token stream belong to one mix; the lettered warm-up stream.</summary>
public sealed class PretrainCorpusTests : IDisposable
{
    readonly string _work = Path.Combine(Path.GetTempPath(), "moeprune-corpus-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_work)) Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public void AWorkFolderRefusesTheTokensOfAnotherMix()
    {
        var first = PretrainCorpus.Prepare(_work, 300, seed: 1);
        string stamp = File.ReadAllText(Path.Combine(_work, PretrainCorpus.MixStampFile)).Trim();
        Assert.Equal(PretrainCorpus.MixStamp(1, new InstructionOptions()), stamp);
        // The same mix reuses the cache.
        Assert.Equal(first.TrainTokens, PretrainCorpus.Prepare(_work, 300, seed: 1).TrainTokens);
        // Another seed or other instruction options are refused with one line naming the stamp file.
        var other = Assert.Throws<MoePruneException>(() => PretrainCorpus.Prepare(_work, 300, seed: 1, instructions: new InstructionOptions { FindWordQuestionsPerLemma = 3 }));
        Assert.Contains(PretrainCorpus.MixStampFile, other.Message);
        Assert.Contains("fresh --work", other.Message);
        Assert.DoesNotContain('\n', other.Message);
        Assert.Throws<MoePruneException>(() => PretrainCorpus.Prepare(_work, 300, seed: 2));
        Assert.Equal(stamp, File.ReadAllText(Path.Combine(_work, PretrainCorpus.MixStampFile)).Trim());
    }

    [Fact]
    public void LetteredWarmupAsksEveryTrainableLemmaOncePerRoundAndNoHeldOutWord()
    {
        var corpus = PretrainCorpus.Prepare(_work, 300, seed: 1);
        var knowledge = KnowledgeSet.Default;
        var trainable = knowledge.Trainable.Select(e => $"{InstructionTemplates.PosName(e.Pos)} {WordNet.Display(e.Lemma)}").ToList();
        var stream = LetteredWarmupSource.Stream(corpus, 250_000, seed: 1);
        Assert.True(stream.Length >= 250_000);
        Assert.Equal(stream, LetteredWarmupSource.Stream(corpus, 250_000, seed: 1));
        Assert.NotEqual(stream.Take(1000), LetteredWarmupSource.Stream(corpus, 250_000, seed: 2).Take(1000));

        var documents = new List<string>();
        for (int start = 0, i = 0; i < stream.Length; i++)
            if (stream[i] == corpus.EndOfText) { documents.Add(corpus.Tokenizer.Decode(stream[start..i])); start = i + 1; }
        var form = new Regex(@"^### Question:\nWhich option is the (\w+) (.+)\?\nA\. (.+)\nB\. (.+)\nC\. (.+)\nD\. (.+)\n### Answer:\n([ABCD])$");
        var named = new List<string>();
        foreach (var doc in documents)
        {
            var m = form.Match(doc);
            Assert.True(m.Success, doc);
            var options = Enumerable.Range(3, 4).Select(g => m.Groups[g].Value).ToList();
            Assert.Equal(m.Groups[2].Value, options[m.Groups[7].Value[0] - 'A']);        // the answer letter names the word
            Assert.All(options, o => Assert.False(knowledge.IsHeldOut(o.ToLowerInvariant()), o));
            named.Add($"{m.Groups[1].Value} {m.Groups[2].Value}");
        }
        // The first round names every trainable (part of speech, lemma) exactly once; the second starts again.
        Assert.True(documents.Count > trainable.Count, $"{documents.Count} questions");
        Assert.Equal(trainable.OrderBy(x => x, StringComparer.Ordinal), named.Take(trainable.Count).OrderBy(x => x, StringComparer.Ordinal));
        Assert.NotEqual(named.Take(50), named.Skip(trainable.Count).Take(50));           // each round in its own order
    }
}
