using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.Training;

namespace MoePrune.Jobs.FineTuning;

/// <summary>What a fine-tune minimises: next-token cross-entropy, or KL(teacher ‖ student) of the next-token distributions.</summary>
public enum FineTuneObjective { Lm, Distill }

/// <summary>
/// One fine-tune's settings: the token budget, the trained roles, the objective, the data (a calibration-style spec
/// packed into sequences, or an SFT task file trained on its answers only), the optimizer's sizes and rate, and the
/// data seed. <see cref="Trainer"/> does the work: AdamW (fresh per call), linear warmup then cosine.
/// </summary>
public sealed record FineTuneSpec
{
    public const int DefaultSequenceLength = 256;
    public const int DefaultBatchSize = 8;
    public const int DefaultPoolSequences = 1024;
    public const int DefaultSeed = 1000;

    /// <summary>Training tokens (B · T per micro-batch); rounded up to whole optimizer steps.</summary>
    public long Tokens { get; init; }
    /// <summary>Trained roles: "all", "routers", "experts", or a comma-separated list (<see cref="ParameterRoles.Parse"/>).</summary>
    public string Train { get; init; } = "all";
    public FineTuneObjective Objective { get; init; } = FineTuneObjective.Lm;
    /// <summary>Data spec in the calibration syntax (brown, wordnet, text:FILE, tokens:FILE, …; train splits).</summary>
    public string Data { get; init; } = CalibrationSpec.Default;
    /// <summary>A task JSONL trained on its answers only (its train documents, or all when it has none); replaces <see cref="Data"/>.</summary>
    public string? SftFile { get; init; }
    public int SequenceLength { get; init; } = DefaultSequenceLength;
    public int BatchSize { get; init; } = DefaultBatchSize;
    /// <summary>Sequences packed from <see cref="Data"/> at most; a larger budget cycles through them in seeded epochs.</summary>
    public int PoolSequences { get; init; } = DefaultPoolSequences;
    /// <summary>AdamW, the peak learning rate (default 1e-4) and the cosine's floor; fresh per fine-tune.</summary>
    public OptimizerSettings Optimizer { get; init; } = new();
    /// <summary>Linear warmup over this fraction of the steps.</summary>
    public double WarmupFraction { get; init; } = 0.1;
    /// <summary>Seed of the data packing and the epoch order.</summary>
    public int Seed { get; init; } = DefaultSeed;
    /// <summary>Checkpoint into the work folder every N steps (0: only at the end), so a killed fine-tune resumes.</summary>
    public int CheckpointEvery { get; init; } = 10;
    public OptionNames Names { get; init; } = OptionNames.Neutral;

    public ParameterSelection Roles => ParameterSelection.Parse(Train);

    /// <summary>Checks the settings that need no model.</summary>
    public void Check()
    {
        var n = Names;
        if (Tokens < 1) throw new MoePruneException($"{n[FineTuneNames.Tokens]}: {Tokens} must be at least 1");
        try { _ = Roles; }
        catch (MoePruneException e) { throw new MoePruneException($"{n[FineTuneNames.Train]}: {e.Message}"); }
        if (SequenceLength < 2) throw new MoePruneException($"{n[FineTuneNames.SequenceLength]}: {SequenceLength} must be at least 2");
        if (BatchSize < 1) throw new MoePruneException($"{n[FineTuneNames.BatchSize]}: {BatchSize} must be at least 1");
        if (PoolSequences < 1) throw new MoePruneException($"{n[FineTuneNames.PoolSequences]}: {PoolSequences} must be at least 1");
        Optimizer.Validate(n.With(OptimizerSettings.LearningRateName, n[FineTuneNames.LearningRate]));
        if (!(WarmupFraction >= 0 && WarmupFraction < 1))
            throw new MoePruneException($"{n[FineTuneNames.Warmup]}: {WarmupFraction} must be in [0, 1)");
        if (CheckpointEvery < 0) throw new MoePruneException($"checkpoint interval {CheckpointEvery} must be >= 0");
        if (SftFile is not null && !File.Exists(SftFile)) throw new MoePruneException($"{SftFile}: task file not found");
        CalibrationSpec.Parse(Data);
    }

    /// <summary>The trainer's settings for a budget of <paramref name="tokens"/>.</summary>
    public TrainerOptions ToTrainer(long tokens)
    {
        long perStep = (long)BatchSize * SequenceLength;
        long steps = (tokens + perStep - 1) / perStep;
        long warmupSteps = (long)Math.Floor(steps * WarmupFraction);
        return new TrainerOptions
        {
            Tokens = tokens, WarmupTokens = warmupSteps * perStep, BatchSize = BatchSize, Optimizer = Optimizer,
            Train = Roles, CheckpointEvery = CheckpointEvery,
            Loss = Objective == FineTuneObjective.Distill ? new LossSpec { CrossEntropy = 0, Distillation = 1 } : new LossSpec(),
        };
    }

    /// <summary>"lm" / "distill".</summary>
    public static string Name(FineTuneObjective o) => o == FineTuneObjective.Distill ? "distill" : "lm";

    public static FineTuneObjective ParseObjective(string text, string option) => text.Trim().ToLowerInvariant() switch
    {
        "lm" => FineTuneObjective.Lm,
        "distill" => FineTuneObjective.Distill,
        _ => throw new MoePruneException($"{option}: '{text}' is not an objective (lm or distill)"),
    };

    /// <summary>Everything that decides the outcome (for run folders and finetune.json).</summary>
    public JsonObject ToJson() => new()
    {
        ["tokens"] = Tokens, ["train"] = Roles.ToString(), ["objective"] = Name(Objective),
        ["data"] = SftFile is null ? Data : null, ["sft"] = SftFile is null ? null : Path.GetFullPath(SftFile),
        ["sequence_length"] = SequenceLength, ["batch_size"] = BatchSize, ["pool_sequences"] = SftFile is null ? PoolSequences : null,
        ["learning_rate"] = Optimizer.LearningRate, ["warmup_fraction"] = WarmupFraction, ["seed"] = Seed,
        ["optimizer"] = $"{Optimizer.Describe()}, fresh per fine-tune; linear warmup, cosine to {Optimizer.MinLrRatio.ToString(System.Globalization.CultureInfo.InvariantCulture)} x lr",
    };
}

/// <summary>The fine-tune settings' neutral names (a front end maps them to its options through <see cref="OptionNames"/>).</summary>
public static class FineTuneNames
{
    public const string Tokens = "finetune-tokens";
    public const string Train = "train";
    public const string Objective = "objective";
    public const string SequenceLength = "finetune-seq-len";
    public const string BatchSize = "finetune-batch-size";
    public const string PoolSequences = "finetune-pool";
    public const string LearningRate = "finetune-lr";
    public const string Warmup = "finetune-warmup";
    public const string Growth = "finetune-growth";
    public const string Teacher = "teacher";
}
