using MoePrune.Data;
using MoePrune.Training;
using Xunit;

namespace MoePrune.Tests.Training;

/// <summary>The work folder's cached tokenizer and token stream belong to one mix.</summary>
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
}
