namespace MoePrune.Training;

/// <summary>
/// Settings of one <see cref="Trainer.Train"/> call: the token budget (micro-batch size × sequence length ×
/// accumulation per optimizer step; the step count is the budget rounded up to whole steps), the schedule
/// (linear warmup over <see cref="WarmupTokens"/>, then cosine down to the optimizer's floor at the last
/// step), the <see cref="OptimizerSettings"/>, the trained roles, the objective and the bookkeeping.
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>Training tokens (sequence slots, B · T per micro-batch).</summary>
    public long Tokens { get; init; }
    public long WarmupTokens { get; init; }
    /// <summary>Sequences per micro-batch.</summary>
    public int BatchSize { get; init; } = 8;
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>AdamW, the peak learning rate, the cosine's floor and the gradient clip.</summary>
    public OptimizerSettings Optimizer { get; init; } = new();

    public ParameterSelection Train { get; init; } = ParameterSelection.All;
    public LossSpec Loss { get; init; } = new();

    /// <summary>Validate every N steps and at the last (0: never; needs validation sequences).</summary>
    public int EvalEvery { get; init; }
    /// <summary>Checkpoint into the work folder every N steps (the last step and a time stop always checkpoint).</summary>
    public int CheckpointEvery { get; init; }
    /// <summary>Stop (after checkpointing) once this much training time has passed; 0: no limit.</summary>
    public double MaxMinutes { get; init; }

    public long TokensPerStep(int sequenceLength) => (long)sequenceLength * BatchSize * GradientAccumulation;
    public int Steps(int sequenceLength) => StepsFor(Tokens, sequenceLength);
    public int WarmupSteps(int sequenceLength) => StepsFor(WarmupTokens, sequenceLength);

    int StepsFor(long tokens, int sequenceLength) => (int)Math.Min(int.MaxValue, (tokens + TokensPerStep(sequenceLength) - 1) / TokensPerStep(sequenceLength));

    /// <summary>Throws for settings that cannot train.</summary>
    public void Validate(int sequenceLength)
    {
        void Check(bool ok, string what) { if (!ok) throw new MoePruneException($"training: {what}"); }
        Check(sequenceLength >= 2, $"sequences of {sequenceLength} tokens predict nothing");
        Check(BatchSize >= 1 && GradientAccumulation >= 1, "batch size and gradient accumulation must be at least 1");
        Check(Tokens > 0, $"the token budget {Tokens} must be positive");
        Check(WarmupTokens >= 0 && WarmupSteps(sequenceLength) < Math.Max(2, Steps(sequenceLength)),
              $"{WarmupTokens} warmup tokens ({WarmupSteps(sequenceLength)} steps) must leave steps of the {Steps(sequenceLength)} to decay over");
        try { Optimizer.Validate(OptionNames.Neutral); }
        catch (MoePruneException e) { throw new MoePruneException($"training: {e.Message}"); }
    }
}
