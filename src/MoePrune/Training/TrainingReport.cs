namespace MoePrune.Training;

/// <summary>One optimizer step as reported to the caller (progress bar) and written to <c>log.jsonl</c>.</summary>
public sealed record StepReport(int Step, int TotalSteps, double Loss, double CrossEntropy, double AuxLoss, double ZLoss,
                                double LearningRate, double GradNorm, long TokensSeen, double TokensPerSecond, double ElapsedSeconds);

/// <summary>A validation pass: mean NLL over the evaluated tokens.</summary>
public sealed record EvalReport(int Step, double ValidationLoss, long Tokens);

/// <summary>The outcome of <see cref="Pretrainer.Run"/>.</summary>
public sealed record PretrainResult(string OutputDir, int Steps, long TokensSeen, double Seconds, double TokensPerSecond,
                                    double FinalTrainLoss, double FinalValidationLoss, long TotalParameters,
                                    long ActiveParameters, bool StoppedEarly);
