namespace MoePrune.Cli.Commands;

/// <summary>The CLI's spelling of the library's settings, so that library errors name the options the user typed.</summary>
public static class CliOptionNames
{
    public static OptionNames Map { get; } = new(new Dictionary<string, string>
    {
        [OptionNames.Drop] = "--drop",
        [OptionNames.Keep] = "--keep",
        [OptionNames.Ratio] = "--ratio",
        [OptionNames.Protect] = "--protect",
        [OptionNames.Global] = "--global",
        [OptionNames.Criterion] = "--criterion",
        [OptionNames.Criteria] = "--criteria",
        [OptionNames.Scores] = "--scores",
        [OptionNames.KeepMap] = "--keep-map",
        [OptionNames.BatchSize] = "--batch-size",
        [OptionNames.InputSampleRows] = "--naee-tokens",
        [OptionNames.SubsetKeep] = "--naee-keep",
        [OptionNames.SaveStats] = "--save-stats",
        [OptionNames.MergeStats] = "--merge-stats",
        [OptionNames.Ratios] = "--ratios",
        [OptionNames.CalibrationSeeds] = "--calib-seeds",
        [OptionNames.RandomSeeds] = "--random-seeds",
        [OptionNames.EvalSequences] = "--eval-sequences",
        [OptionNames.Out] = "--out",
        [OptionNames.Layerwise] = "--layerwise",
        [OptionNames.MemoryBudget] = "--memory-budget",
        [OptionNames.Shard] = "--shard",
        [Jobs.FineTuning.FineTuneNames.Tokens] = "--finetune-tokens",
        [Jobs.FineTuning.FineTuneNames.Train] = "--train",
        [Jobs.FineTuning.FineTuneNames.Objective] = "--objective",
        [Jobs.FineTuning.FineTuneNames.Growth] = "--finetune-growth",
        [Jobs.FineTuning.FineTuneNames.Teacher] = "--teacher",
        [OptionNames.Force] = "--force",
        [OptionNames.DropMtp] = "--drop-mtp",
    });
}
