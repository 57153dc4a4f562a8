namespace MoePrune.Training;

/// <summary>One optimizer step as reported to the caller (progress bar) and written to <c>log.jsonl</c>; Distillation is 0 when off.</summary>
public sealed record StepReport(int Step, int TotalSteps, double Loss, double CrossEntropy, double AuxLoss, double ZLoss,
                                double LearningRate, double GradNorm, long TokensSeen, double TokensPerSecond, double ElapsedSeconds,
                                double Distillation = 0);

/// <summary>A validation pass: mean NLL over the evaluated tokens.</summary>
public sealed record EvalReport(int Step, double ValidationLoss, long Tokens);

/// <summary>
/// The outcome of a <see cref="Trainer.Train"/> call: where it stopped, the planned steps, whether it stopped
/// before them (time limit or a requested stop), the trained roles and the cross-entropy of every step it ran.
/// </summary>
public sealed record TrainingResult(TrainingProgressState State, int TotalSteps, bool StoppedEarly, ParameterSelection Trained,
                                    IReadOnlyList<double> Losses)
{
    /// <summary>Mean cross-entropy of the last (up to) <paramref name="steps"/> steps of this call; null when none ran.</summary>
    public double? FinalLoss(int steps = 20) => Losses.Count > 0 ? Losses.TakeLast(steps).Average() : null;
}
