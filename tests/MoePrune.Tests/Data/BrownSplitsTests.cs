using MoePrune.Data;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Data;

/// <summary>Document splits: deterministic, stratified by genre, disjoint, and equal to the committed manifest.</summary>
public class BrownSplitsTests(ITestOutputHelper output)
{
    static BrownCorpus Corpus => BrownCorpus.Load();

    [Fact]
    public void SplitsAreDeterministicAndSeedDependent()
    {
        var a = BrownSplits.Compute(Corpus, BrownSplits.DefaultSeed);
        var b = BrownSplits.Compute(Corpus, BrownSplits.DefaultSeed);
        foreach (var split in Enum.GetValues<CorpusSplit>()) Assert.Equal(a.Documents(split), b.Documents(split));
        var other = BrownSplits.Compute(Corpus, BrownSplits.DefaultSeed + 1);
        Assert.NotEqual(a.Documents(CorpusSplit.Test), other.Documents(CorpusSplit.Test));
    }

    [Fact]
    public void EveryGenreIsInEverySplitAndNoDocumentIsInTwo()
    {
        var splits = BrownSplits.Default;
        var seen = new HashSet<string>();
        foreach (var g in splits.Genres)
        {
            int n = Corpus.OfGenre(g.Genre).Count();
            int held = Math.Max(1, (int)Math.Round(0.1 * n, MidpointRounding.AwayFromZero));
            Assert.Equal(held, g.Validation.Count);
            Assert.Equal(held, g.Test.Count);
            Assert.Equal(n - 2 * held, g.Train.Count);
            foreach (var split in Enum.GetValues<CorpusSplit>())
                foreach (string id in g[split])
                {
                    Assert.True(seen.Add(id), $"{id} is in two splits");
                    Assert.Equal(g.Genre, Corpus[id].Genre);
                }
        }
        Assert.Equal(Corpus.Documents.Select(d => d.Id).ToHashSet(), seen);
        output.WriteLine($"train {splits.Documents(CorpusSplit.Train).Count}, validation {splits.Documents(CorpusSplit.Validation).Count}, test {splits.Documents(CorpusSplit.Test).Count}");
    }

    [Fact]
    public void SplitsFollowTheDocumentedHashRule()
    {
        // Independent re-implementation of the documented rule for one genre: sort by SHA-256("{seed}:{id}")[0..8] LE.
        var ids = Corpus.OfGenre(BrownGenre.Parse("humor")).Select(d => d.Id).ToList();
        ulong Key(string id) => BitConverter.ToUInt64(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes($"{BrownSplits.DefaultSeed}:{id}")), 0);
        var ordered = ids.OrderBy(Key).ToList();
        var humor = BrownSplits.Default.Genres.Single(g => g.Genre.Name == "humor");
        Assert.Equal([ordered[0]], humor.Validation);
        Assert.Equal([ordered[1]], humor.Test);
        Assert.Equal(ordered.Skip(2).Order(StringComparer.Ordinal), humor.Train);
    }

    [Fact]
    public void CommittedManifestMatchesTheCode()
    {
        var paths = CorpusStore.EnsureInstalled();
        var fromFile = SplitManifest.Read(paths.SplitsManifest);
        var computed = BrownSplits.Default;
        Assert.Equal(computed.Seed, fromFile.Seed);
        foreach (var split in Enum.GetValues<CorpusSplit>()) Assert.Equal(computed.Documents(split), fromFile.Documents(split));
        // The whole file, counts included, is what the code renders now.
        var (splitsText, _) = CorpusManifests.Render(Corpus, computed, KnowledgeSet.Default);
        Assert.Equal(splitsText, File.ReadAllText(paths.SplitsManifest));
    }
}
