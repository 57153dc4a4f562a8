using System.CommandLine;
using System.CommandLine.Help;

namespace MoePrune.Cli;

/// <summary>The <c>moeprune</c> command tree: global options, help, and every command of <see cref="CommandRegistry"/>.</summary>
public static class CliRoot
{
    public const string Name = "moeprune";

    public static Command Create()
    {
        var root = new Command(Name, "MoePrune: find and remove (or merge) the least useful experts of Mixture-of-Experts models.");
        root.Options.Add(new HelpOption());
        root.Options.Add(GlobalOptions.Json);
        root.Options.Add(GlobalOptions.Verbose);
        root.Options.Add(GlobalOptions.Threads);
        foreach (var command in CommandRegistry.All())
            root.Subcommands.Add(command);
        return root;
    }
}
