using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Native;

namespace MoePrune.Cli;

/// <summary>
/// Runs a command line: usage errors (unknown or mistyped options, missing or malformed values) and user errors
/// (<see cref="MoePruneException"/>, file-system failures) become ONE line <c>error: …</c> on stderr and exit
/// code 1, with nothing on stdout; unexpected exceptions exit 3 (<c>internal error: …</c>). The global
/// <c>--threads</c> is applied here, once, before the command runs.
/// </summary>
public static class CliRunner
{
    public static int Run(Command root, string[] args)
    {
        var parsed = root.Parse(args);
        bool verbose = args.Contains(GlobalOptions.Verbose.Name);
        if (UsageErrors.Find(parsed) is { } usage) return Fail(usage);
        try
        {
            if (parsed.GetValue(GlobalOptions.Threads) is int threads)
            {
                if (threads < 1) return Fail($"{GlobalOptions.Threads.Name}: {threads} must be at least 1");
                TorchNative.EnsureLoaded();
                TorchSharp.torch.set_num_threads(threads);
            }
            using var progress = StderrProgress.Start();
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (MoePruneException e)
        {
            Fail(e.Message);
            if (verbose)
                foreach (var d in e.Details) Console.Error.WriteLine($"  {d}");
            return 1;
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            if (verbose) Console.Error.WriteLine(e.ToString());
            return Fail(IoErrors.ForUser(e).Message);
        }
        catch (OperationCanceledException)
        {
            return Fail("cancelled", 130);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"internal error: {e.GetType().Name}: {OneLine(e.Message)}");
            if (verbose) Console.Error.WriteLine(e.ToString());
            return 3;
        }
    }

    static int Fail(string message, int code = 1)
    {
        Console.Error.WriteLine($"error: {OneLine(message)}");
        return code;
    }

    static string OneLine(string message) => string.Join(" ", message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Prints the single JSON object of a --json run.</summary>
    public static void PrintJson(JsonObject obj) => Console.Out.WriteLine(obj.ToJsonString(Indented));
}
