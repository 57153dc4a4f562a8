using System.CommandLine;
using MoePrune.IO;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>--out</c> and <c>--force</c>, the same on every command that writes: an existing output is refused unless
/// <c>--force</c>, and the location is checked before any long work (<see cref="OutputPaths.Claim"/>).
/// </summary>
public static class OutputOptions
{
    public static Option<string> Out(string description, bool required = true) => new("--out") { Description = description, Required = required };

    public static Option<bool> Force() => new("--force") { Description = "Replace an existing output (written beside it, swapped in at the end)" };

    /// <summary>Claims the output before the work; the jobs that take a request do this themselves.</summary>
    public static void Claim(string path, OutputKind kind, bool force) => OutputPaths.Claim(path, kind, force, CliOptionNames.Map);
}
