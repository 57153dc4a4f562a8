using System.CommandLine;
using MoePrune.Cli.Commands;

namespace MoePrune.Cli;

/// <summary>Every subcommand, one file each under Commands/.</summary>
public static class CommandRegistry
{
    public static IEnumerable<Command> All()
    {
        yield return NativeCommand.Create();
        yield return DataCommand.Create();
        yield return MakeTinyCommand.Create();
        yield return InfoCommand.Create();
        yield return PerplexityCommand.Create();
        yield return GenerateCommand.Create();
        yield return TokenizeCommand.Create();
        yield return TrainTokenizerCommand.Create();
        yield return ScoreCommand.Create();
        yield return PruneCommand.Create();
        yield return MergeCommand.Create();
        yield return FinetuneCommand.Create();
        yield return BenchCommand.Create();
        yield return PretrainCommand.Create();
        yield return StudyCommand.Create();
        yield return ExportGgufCommand.Create();
        yield return ReportCommand.Create();
        yield return EvalCommand.Create();
    }
}
