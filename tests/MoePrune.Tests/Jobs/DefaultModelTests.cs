using MoePrune.Jobs;
using MoePrune.Tests.IO;
using Xunit;

namespace MoePrune.Tests.Jobs;

/// <summary>The one default-model resolver: the working directory first, then the program folder's ancestors.</summary>
public class DefaultModelTests
{
    [Fact]
    public void WorkingDirectoryThenProgramAncestorsThenAOneLineError()
    {
        using var tmp = new TempDir();
        string work = tmp["work"], repo = tmp["repo"], program = Path.Combine(repo, "src", "bin", "Release");
        Directory.CreateDirectory(work);
        Directory.CreateDirectory(program);
        Assert.Equal("given", DefaultModel.Resolve("given", work, program));
        var ex = Assert.Throws<MoePruneException>(() => DefaultModel.Resolve(null, work, program));
        Assert.Contains("no model directory given, and no default model is installed", ex.Message);
        Assert.Contains(program, ex.Message);

        string installed = Path.Combine(repo, DefaultModel.RelativeDir);
        Directory.CreateDirectory(installed);
        Assert.Null(DefaultModel.Find(work, program));                                    // a folder without config.json does not count
        File.WriteAllText(Path.Combine(installed, "config.json"), "{}");
        Assert.Equal(installed, DefaultModel.Find(work, program));

        string local = Path.Combine(work, DefaultModel.RelativeDir);
        Directory.CreateDirectory(local);
        Assert.Equal(local, DefaultModel.Resolve(null, work, program));                  // the working directory wins
    }
}
