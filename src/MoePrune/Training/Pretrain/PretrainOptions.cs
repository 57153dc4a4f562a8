using MoePrune.Data;

namespace MoePrune.Training.Pretrain;

/// <summary>
/// The data-side options of a pretraining run. They change what the trainer reads (the mix, the order of the
/// first steps, per-token target weights), never the training step: <see cref="PretrainData"/> turns them into
/// an <see cref="ITrainingData"/> source.
/// </summary>
public sealed record PretrainCurriculum
{
    /// <summary>The instruction portion of the training mix (lettered questions per lemma, …).</summary>
    public InstructionOptions Instructions { get; init; } = new();
    /// <summary>Loss weight of the first token after each answer marker (<see cref="AnswerTokenWeights"/>); 1: plain LM loss.</summary>
    public double AnswerWeight { get; init; } = 1;
    /// <summary>Steps at the start that read lettered find-the-word questions only (<see cref="LetteredWarmupSource"/>); 0: the mix from the first step.</summary>
    public int LetteredWarmupSteps { get; init; }
}

/// <summary>Model shape, optimisation and bookkeeping settings of a <see cref="PretrainJob"/> (the options of <c>moeprune pretrain</c>).</summary>
public sealed record PretrainOptions
{
    // Model (Mixtral architecture).
    public int HiddenSize { get; init; } = 128;
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 4;
    public int KeyValueHeads { get; init; } = 2;
    public int Experts { get; init; } = 8;
    public int TopK { get; init; } = 2;
    /// <summary>Width of one expert's SwiGLU MLP (Mixtral <c>intermediate_size</c>).</summary>
    public int ExpertSize { get; init; } = 256;
    /// <summary>Train a dense model with the same active parameters: 1 expert of width TopK·ExpertSize, top-1.</summary>
    public bool Dense { get; init; }
    public int VocabSize { get; init; } = 4096;
    public double InitStd { get; init; } = 0.02;
    /// <summary>bf16 forward/backward with fp32 master weights in the optimizer.</summary>
    public bool Bf16 { get; init; }

    // Data.
    public int SequenceLength { get; init; } = 256;
    /// <summary>Sequences per micro-batch.</summary>
    public int BatchSize { get; init; } = 16;
    public int GradientAccumulation { get; init; } = 1;
    /// <summary>Seed of the mix order, the initialisation and the data order.</summary>
    public long Seed { get; init; } = 1;
    public PretrainCurriculum Curriculum { get; init; } = new();

    // Optimisation.
    public int Steps { get; init; } = 1000;
    public int WarmupSteps { get; init; } = 50;
    /// <summary>AdamW (0.9, 0.95), weight decay 0.1, clip 1.0, peak learning rate 3e-3, cosine to 0.1 · peak.</summary>
    public OptimizerSettings Optimizer { get; init; } = new() { LearningRate = 3e-3 };
    /// <summary>Coefficient of the load-balancing loss (HF <c>router_aux_loss_coef</c>).</summary>
    public double AuxLossCoef { get; init; } = 0.01;
    /// <summary>Balance each layer separately (<see cref="LoadBalancingLoss.ComputePerLayer"/>) instead of all layers' rows together.</summary>
    public bool AuxPerLayer { get; init; }
    /// <summary>Coefficient of the router z-loss (0: off).</summary>
    public double ZLossCoef { get; init; } = 0.001;

    // Bookkeeping.
    public int EvalEvery { get; init; } = 100;
    /// <summary>Validation sequences used by the periodic evaluation (the final one uses four times as many).</summary>
    public int EvalSequences { get; init; } = 48;
    public int CheckpointEvery { get; init; } = 100;
    /// <summary>Stop (after checkpointing) once this much wall time has passed; 0: no limit.</summary>
    public double MaxMinutes { get; init; }

    /// <summary>Tokens per optimizer step.</summary>
    public long TokensPerStep => (long)SequenceLength * BatchSize * GradientAccumulation;

    /// <summary>
    /// The trainer's settings: all parameters, <see cref="Steps"/> · <see cref="TokensPerStep"/> tokens, cross-entropy
    /// (answer weights as row emphasis) + load-balancing + z-loss (neither for a dense model).
    /// </summary>
    public TrainerOptions ToTrainerOptions() => new()
    {
        Tokens = Steps * TokensPerStep, WarmupTokens = WarmupSteps * TokensPerStep,
        BatchSize = BatchSize, GradientAccumulation = GradientAccumulation,
        Optimizer = Optimizer,
        Train = ParameterSelection.All,
        Loss = new LossSpec
        {
            AuxLossCoef = Dense ? 0 : AuxLossCoef, AuxPerLayer = AuxPerLayer, ZLossCoef = Dense ? 0 : ZLossCoef,
            Normalization = TargetNormalization.RowMean,
        },
        EvalEvery = EvalEvery, CheckpointEvery = CheckpointEvery, MaxMinutes = MaxMinutes,
    };

    static readonly OptionNames OptimizerNames = OptionNames.Neutral.With(OptimizerSettings.LearningRateName, "--lr")
        .With(OptimizerSettings.MinLrRatioName, "--min-lr-ratio").With(OptimizerSettings.WeightDecayName, "--weight-decay")
        .With(OptimizerSettings.ClipNormName, "--clip");

    /// <summary>Throws for settings that cannot train.</summary>
    public void Validate()
    {
        void Check(bool ok, string option, string what) { if (!ok) throw new MoePruneException($"{option}: {what}"); }
        Check(HiddenSize > 0 && HiddenSize % Heads == 0, "--hidden", $"{HiddenSize} must be a positive multiple of --heads {Heads}");
        Check(Heads % KeyValueHeads == 0, "--kv-heads", $"{KeyValueHeads} must divide --heads {Heads}");
        Check(Dense || (TopK >= 1 && TopK <= Experts), "--top-k", $"{TopK} must be between 1 and --experts {Experts}");
        Check(Layers >= 1, "--layers", "must be at least 1");
        Check(SequenceLength >= 2, "--seq-len", "must be at least 2");
        Check(BatchSize >= 1 && GradientAccumulation >= 1, "--batch-size", "batch size and accumulation must be at least 1");
        Check(Steps >= 1 && WarmupSteps >= 0 && WarmupSteps < Steps, "--warmup", $"{WarmupSteps} must be below --steps {Steps}");
        Check(Curriculum.LetteredWarmupSteps >= 0 && Curriculum.LetteredWarmupSteps < Steps, "--lettered-warmup-steps",
              $"{Curriculum.LetteredWarmupSteps} must be >= 0 and below --steps {Steps}");
        Optimizer.Validate(OptimizerNames);
        Check(VocabSize >= 2, "--vocab-size", "must be at least 2");
        Curriculum.Instructions.Validate();
        Check(Curriculum.AnswerWeight >= 0 && double.IsFinite(Curriculum.AnswerWeight), "--answer-weight",
              $"{Curriculum.AnswerWeight} must be a finite number >= 0");
    }
}
