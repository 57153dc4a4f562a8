using System.CommandLine;
using MoePrune.Cli;
using MoePrune.Cli.Commands;

// MoePrune command line: argument binding and printing only; every action is a library call.
var root = new RootCommand("MoePrune: find and remove (or merge) the least useful experts of Mixture-of-Experts models.");
root.Options.Add(GlobalOptions.Json);
root.Options.Add(GlobalOptions.Verbose);
foreach (var command in CommandRegistry.All())
    root.Subcommands.Add(command);
return CliRunner.Run(root, args);
