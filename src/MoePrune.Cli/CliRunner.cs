using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoePrune.Cli;

/// <summary>
/// Runs a parsed command line: user errors (<see cref="MoePruneException"/>) become one line on stderr
/// and exit code 1, without a stack trace; parse errors exit 2; unexpected exceptions exit 3.
/// </summary>
public static class CliRunner
{
    public static int Run(RootCommand root, string[] args)
    {
        var parsed = root.Parse(args);
        bool verbose = parsed.GetValue(GlobalOptions.Verbose);
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (MoePruneException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            if (verbose)
                foreach (var d in e.Details) Console.Error.WriteLine($"  {d}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("error: cancelled");
            return 130;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"internal error: {e.GetType().Name}: {e.Message}");
            if (verbose) Console.Error.WriteLine(e.ToString());
            return 3;
        }
    }

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Prints the single JSON object of a --json run.</summary>
    public static void PrintJson(JsonObject obj) => Console.Out.WriteLine(obj.ToJsonString(Indented));
}
