using System.CommandLine;

namespace MoePrune.Cli;

/// <summary>Options every command accepts (recursive on the root command).</summary>
public static class GlobalOptions
{
    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print exactly one JSON object on stdout instead of human-readable output (progress and errors stay on stderr)",
        Recursive = true,
    };

    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "On errors, list every offending item instead of the first five (and the stack of an internal error)",
        Recursive = true,
    };

    public static readonly Option<int?> Threads = new("--threads")
    {
        Description = "Torch CPU threads (default: torch's, one per core); set once before the command runs",
        Recursive = true,
    };
}
