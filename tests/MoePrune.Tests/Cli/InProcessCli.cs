using MoePrune.Cli;
using Xunit;

namespace MoePrune.Tests.Cli;

/// <summary>
/// Runs the CLI in this process (as Program.cs does) with Console.Out/Error captured.
/// Console is process-wide, so every test class that runs commands in-process joins the
/// <see cref="ConsoleCollection"/>: otherwise one test's output lands in another's capture.
/// </summary>
static class InProcessCli
{
    static readonly object Gate = new();

    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var root = CliRoot.Create();
        lock (Gate)
        {
            var (stdout, stderr) = (Console.Out, Console.Error);
            var (o, e) = (new StringWriter(), new StringWriter());
            Console.SetOut(o);
            Console.SetError(e);
            try { return (CliRunner.Run(root, args), o.ToString(), e.ToString()); }
            finally { Console.SetOut(stdout); Console.SetError(stderr); }
        }
    }
}

/// <summary>Test classes that swap Console.Out run one after another.</summary>
[CollectionDefinition(Name)]
public class ConsoleCollection
{
    public const string Name = "Console";
}
