using MoePrune.Cli;

// MoePrune command line: argument binding and printing only; every action is a library call.
return CliRunner.Run(CliRoot.Create(), args);
