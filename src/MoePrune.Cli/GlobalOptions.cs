using System.CommandLine;

namespace MoePrune.Cli;

/// <summary>Options every command accepts.</summary>
public static class GlobalOptions
{
    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print exactly one JSON object on stdout instead of human-readable output",
        Recursive = true,
    };

    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "On errors, list every offending item instead of the first five",
        Recursive = true,
    };
}
