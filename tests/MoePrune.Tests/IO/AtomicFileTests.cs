using System.Text;
using MoePrune.IO;
using Xunit;

namespace MoePrune.Tests.IO;

/// <summary>The one atomic-write helper: complete files or none, no temporaries left, modes and encodings as asked.</summary>
public class AtomicFileTests
{
    [Fact]
    public void ReplacesCompletelyOrLeavesTheOldFile()
    {
        using var dir = new TempDir();
        string path = dir["a.txt"];
        AtomicFile.WriteText(path, "old ✓");
        Assert.Equal(Encoding.UTF8.GetBytes("old ✓"), File.ReadAllBytes(path));           // UTF-8, no byte-order mark
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("new, half written"u8);
            throw new InvalidOperationException("boom");
        }));
        Assert.Equal("old ✓", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));                                // no temporary left
        AtomicFile.WriteLines(path, ["a", "b"]);
        Assert.Equal("a\nb\n", File.ReadAllText(path));
        var e = Assert.Throws<MoePruneException>(() => AtomicFile.WriteText(dir["missing/x.txt"], ""));
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void SetsTheUnixModeBeforeTheRename()
    {
        if (OperatingSystem.IsWindows()) return;
        using var dir = new TempDir();
        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead;
        AtomicFile.WriteBytes(dir["lib.so"], [1, 2, 3], mode);
        Assert.Equal(mode, File.GetUnixFileMode(dir["lib.so"]));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(dir["lib.so"]));
    }

    [Fact]
    public void DirectoryAppearsWholeOrNotAtAll()
    {
        using var dir = new TempDir();
        string target = dir["out"];
        var full = Assert.Throws<OutputWriteException>(() => AtomicDirectory.Create(target, staging =>
        {
            File.WriteAllText(Path.Combine(staging, "a"), "a");
            throw new IOException("disk full");
        }));
        Assert.Equal($"{target}: disk full", full.Message);                                 // the target, not the staging name
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));                      // neither target nor staging
        AtomicDirectory.Create(target, staging => File.WriteAllText(Path.Combine(staging, "a"), "a"));
        Assert.Equal("a", File.ReadAllText(Path.Combine(target, "a")));
        var e = Assert.Throws<MoePruneException>(() => AtomicDirectory.Create(target, _ => { }));
        Assert.Contains("exists and is not empty", e.Message);

        File.WriteAllText(Path.Combine(target, "keep"), "k");
        AtomicDirectory.WriteFilesInto(target, staging =>
        {
            File.WriteAllText(Path.Combine(staging, "a"), "new a");
            File.WriteAllText(Path.Combine(staging, "b"), "b");
        });
        Assert.Equal(["a", "b", "keep"], Directory.GetFiles(target).Select(Path.GetFileName).Order());
        Assert.Equal("new a", File.ReadAllText(Path.Combine(target, "a")));
        Assert.Single(Directory.EnumerateFileSystemEntries(dir.Path));                     // staging removed

        OutputPaths.Claim(target, OutputKind.Directory, force: true);                     // replacing allowed: swapped in whole
        AtomicDirectory.Create(target, staging => File.WriteAllText(Path.Combine(staging, "c"), "c"));
        Assert.Equal(["c"], Directory.GetFiles(target).Select(Path.GetFileName));
        Assert.Single(Directory.EnumerateFileSystemEntries(dir.Path));                     // the old output removed
    }
}
