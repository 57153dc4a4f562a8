using System.CommandLine;
using MoePrune.Calibration;
using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using MoePrune.Jobs;

namespace MoePrune.Cli.Commands;

/// <summary>The calibration options shared by <c>score</c>, <c>prune</c> and <c>study</c>.</summary>
public sealed class CalibrationOptions
{
    public required Option<string> Spec { get; init; }
    public required Option<int> Sequences { get; init; }
    public required Option<int> Length { get; init; }
    public required Option<int> Seed { get; init; }
    public required Option<int> BatchSize { get; init; }
    public required Option<int> InputSampleRows { get; init; }

    public static CalibrationOptions Create() => new()
    {
        Spec = new Option<string>("--calib")
        {
            Description = "Calibration data: brown, brown:GENRE, wordnet, text:FILE, jsonl:FILE, tokens:FILE, "
                        + $"comma-separated with optional =WEIGHT (default: {CalibrationSpec.Default})",
            DefaultValueFactory = _ => CalibrationSpec.Default,
        },
        Sequences = new Option<int>("--calib-sequences")
        {
            Description = "Calibration sequences, spread over the sources by weight and over the Brown genres by size (one window per document)",
            DefaultValueFactory = _ => CalibrationPacker.DefaultSequences,
        },
        Length = new Option<int>("--calib-seq-len") { Description = "Tokens per calibration sequence", DefaultValueFactory = _ => CalibrationPacker.DefaultLength },
        Seed = new Option<int>("--seed") { Description = "Seed of the calibration sampling and of the random baseline", DefaultValueFactory = _ => 0 },
        BatchSize = new Option<int>("--batch-size") { Description = "Sequences per forward", DefaultValueFactory = _ => CalibrationPass.DefaultBatchSize },
        InputSampleRows = new Option<int>("--naee-tokens")
        {
            Description = "MoE inputs per layer that NAEE keeps for its reconstruction error",
            DefaultValueFactory = _ => LayerInputSample.DefaultRows,
        },
    };

    /// <summary>Adds every option except the seed (for commands with their own seed list) when <paramref name="withSeed"/> is false.</summary>
    public void AddTo(Command cmd, bool withSeed = true)
    {
        cmd.Options.Add(Spec);
        cmd.Options.Add(Sequences);
        cmd.Options.Add(Length);
        if (withSeed) cmd.Options.Add(Seed);
        cmd.Options.Add(BatchSize);
        cmd.Options.Add(InputSampleRows);
    }

    /// <summary>The parsed settings.</summary>
    public CalibrationSettings Bind(ParseResult pr) => new()
    {
        Spec = pr.GetValue(Spec)!,
        Sequences = pr.GetValue(Sequences),
        Length = pr.GetValue(Length),
        Seed = pr.GetValue(Seed),
        BatchSize = pr.GetValue(BatchSize),
        InputSampleRows = pr.GetValue(InputSampleRows),
    };
}
