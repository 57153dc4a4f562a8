using System.CommandLine;
using MoePrune.Calibration;
using MoePrune.Jobs.FineTuning;
using MoePrune.Training;

namespace MoePrune.Cli.Commands;

/// <summary>
/// The fine-tune options of <c>finetune</c> (plain names: <c>--tokens</c>, <c>--data</c>, <c>--lr</c>, …) and of
/// <c>prune --strategy lottery / --recalibrate</c> (prefixed: <c>--finetune-tokens</c>, <c>--finetune-data</c>, …),
/// bound to a <see cref="FineTuneSpec"/>. <c>--train</c> and <c>--objective</c> are the same in both.
/// </summary>
public sealed class FineTuneOptions
{
    public required Option<long> Tokens { get; init; }
    public required Option<string?> Train { get; init; }
    public required Option<string?> Objective { get; init; }
    public required Option<string?> Data { get; init; }
    public required Option<int> SequenceLength { get; init; }
    public required Option<int> BatchSize { get; init; }
    public required Option<int> Pool { get; init; }
    public required Option<double> LearningRate { get; init; }
    public required Option<double> Warmup { get; init; }
    public required Option<int> Seed { get; init; }
    public required string Prefix { get; init; }

    /// <param name="prefix">"" for finetune, "finetune-" for prune.</param>
    public static FineTuneOptions Create(string prefix, long defaultTokens) => new()
    {
        Prefix = prefix,
        Tokens = new Option<long>($"--{prefix}tokens")
        {
            Description = prefix.Length == 0 ? "Training tokens (sequences x length; rounded up to whole steps)"
                                             : "Fine-tune tokens of the first lottery round (or of a recalibration)",
            DefaultValueFactory = _ => defaultTokens,
        },
        Train = new Option<string?>("--train") { Description = "Trained roles: all, routers, experts, shared_experts, attention, norms, embeddings, lm_head, dense_mlp (comma-separated)" },
        Objective = new Option<string?>("--objective") { Description = "lm (next-token cross-entropy) or distill (KL from the teacher / the unpruned parent)" },
        Data = new Option<string?>($"--{(prefix.Length == 0 ? "data" : prefix + "data")}")
        {
            Description = $"Training data in the calibration syntax: brown, brown:GENRE, wordnet, text:FILE, jsonl:FILE, tokens:FILE (default: {CalibrationSpec.Default})",
        },
        SequenceLength = new Option<int>($"--{prefix}seq-len") { Description = "Tokens per training sequence", DefaultValueFactory = _ => FineTuneSpec.DefaultSequenceLength },
        BatchSize = new Option<int>($"--{prefix}batch-size") { Description = "Sequences per optimizer step", DefaultValueFactory = _ => FineTuneSpec.DefaultBatchSize },
        Pool = new Option<int>($"--{prefix}pool") { Description = "At most this many sequences are packed; a larger budget cycles through them", DefaultValueFactory = _ => FineTuneSpec.DefaultPoolSequences },
        LearningRate = new Option<double>($"--{prefix}lr") { Description = "Peak learning rate (AdamW, cosine to 0.1 x)", DefaultValueFactory = _ => new OptimizerSettings().LearningRate },
        Warmup = new Option<double>($"--{prefix}warmup-fraction") { Description = "Fraction of the steps with a linear warmup", DefaultValueFactory = _ => 0.1 },
        Seed = new Option<int>($"--{prefix}seed") { Description = "Seed of the data packing and order", DefaultValueFactory = _ => FineTuneSpec.DefaultSeed },
    };

    public void AddTo(Command cmd)
    {
        foreach (var o in new Option[] { Tokens, Train, Objective, Data, SequenceLength, BatchSize, Pool, LearningRate, Warmup, Seed })
            cmd.Options.Add(o);
    }

    /// <summary>The spec (roles "all" and objective lm when not given; prune resolves its own defaults).</summary>
    public FineTuneSpec Bind(ParseResult pr, OptionNames names) => new()
    {
        Tokens = pr.GetValue(Tokens), Train = pr.GetValue(Train) ?? "all",
        Objective = pr.GetValue(Objective) is { } o ? FineTuneSpec.ParseObjective(o, "--objective") : FineTuneObjective.Lm,
        Data = pr.GetValue(Data) ?? CalibrationSpec.Default, SequenceLength = pr.GetValue(SequenceLength), BatchSize = pr.GetValue(BatchSize),
        PoolSequences = pr.GetValue(Pool), Optimizer = new OptimizerSettings { LearningRate = pr.GetValue(LearningRate) }, WarmupFraction = pr.GetValue(Warmup), Seed = pr.GetValue(Seed),
        Names = names,
    };

    /// <summary>How library errors spell these settings.</summary>
    public OptionNames Names(OptionNames names) => names
        .With(FineTuneNames.Tokens, Tokens.Name).With(FineTuneNames.Train, "--train").With(FineTuneNames.Objective, "--objective")
        .With(FineTuneNames.SequenceLength, SequenceLength.Name).With(FineTuneNames.BatchSize, BatchSize.Name)
        .With(FineTuneNames.PoolSequences, Pool.Name).With(FineTuneNames.LearningRate, LearningRate.Name)
        .With(FineTuneNames.Warmup, Warmup.Name).With(FineTuneNames.Growth, "--finetune-growth").With(FineTuneNames.Teacher, "--teacher");
}
