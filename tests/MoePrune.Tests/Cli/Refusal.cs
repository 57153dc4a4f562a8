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

    /// <summary>
    /// Runs <c>COMMAND MODEL ARGS… --out OUT --json</c> for every case: exit 1, nothing on stdout, one stderr line that
    /// contains the case's text, and no OUT.
    /// </summary>
    public static void AssertEachRefused(ITestOutputHelper output, IO.TempDir tmp, string command,
                                         IEnumerable<(string Name, string Model, string Expect, string[] Args)> cases)
    {
        foreach (var (name, model, expect, args) in cases)
        {
            var outDir = tmp["out-" + name.Replace(' ', '-')];
            var (code, stdout, err) = Jobs.JobSupport.CliOutput([command, model, .. args, "--out", outDir, "--json"]);
            output.WriteLine($"{name}: exit {code}: {err.Trim()}");
            Assert.Equal(1, code);
            Assert.Equal("", stdout);
            Assert.Contains(expect, Assert.Single(Jobs.JobSupport.Lines(err)));
            Assert.False(Directory.Exists(outDir), $"{name}: output directory was created");
        }
    }

    /// <summary>No hidden temporaries (".name.tmp-…", probes) are left in <paramref name="folder"/>.</summary>
    public static void NoTemporaries(string folder) =>
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName), n => n!.StartsWith('.'));
}
