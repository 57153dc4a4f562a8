using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Cli;

/// <summary>The one shape of a refused command line: exit 1, nothing on stdout, exactly one stderr line, nothing written.</summary>
static class Refusal
{
    /// <summary>Asserts the refusal and that the single line starts with <paramref name="expected"/>; returns the line.</summary>
    public static string Assert1((int Code, string Out, string Err) run, string expected, ITestOutputHelper output, params string[] notWritten)
    {
        output.WriteLine(run.Err.TrimEnd());
        Assert.True(run.Code == 1, $"exit {run.Code}, stderr: {run.Err}");
        Assert.Equal("", run.Out);
        var line = Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("error: " + expected, line);
        foreach (var path in notWritten)
            Assert.False(File.Exists(path) || Directory.Exists(path), $"{path} was written");
        return line;
    }

    /// <summary>No hidden temporaries (".name.tmp-…", probes) are left in <paramref name="folder"/>.</summary>
    public static void NoTemporaries(string folder) =>
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName), n => n!.StartsWith('.'));
}
