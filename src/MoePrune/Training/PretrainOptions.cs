namespace MoePrune.Training;

/// <summary>Model shape, optimisation and bookkeeping settings of <see cref="Pretrainer"/>.</summary>
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

    // Data.
    public int SequenceLength { get; init; } = 256;
    /// <summary>Sequences per micro-batch.</summary>
    public int BatchSize { get; init; } = 16;
    public int GradientAccumulation { get; init; } = 1;
    public long Seed { get; init; } = 1;

    // Optimisation.
    public int Steps { get; init; } = 1000;
    public int WarmupSteps { get; init; } = 50;
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>The cosine decays to MinLrRatio · LearningRate at the last step.</summary>
    public double MinLrRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double Epsilon { get; init; } = 1e-8;
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Coefficient of the load-balancing loss (HF <c>router_aux_loss_coef</c>).</summary>
    public double AuxLossCoef { get; init; } = 0.01;
    /// <summary>Balance each layer separately (<see cref="LoadBalancingLoss.ComputePerLayer"/>) instead of all layers' rows together.</summary>
    public bool AuxPerLayer { get; init; }
    /// <summary>Coefficient of the router z-loss (0: off).</summary>
    public double ZLossCoef { get; init; } = 0.001;
    /// <summary>The instruction portion of the training mix (lettered questions per lemma, …).</summary>
    public Data.InstructionOptions Instructions { get; init; } = new();
    /// <summary>Loss weight of the first token after each answer marker (<see cref="AnswerTokenWeights"/>); 1: plain LM loss.</summary>
    public double AnswerWeight { get; init; } = 1;
    /// <summary>The tokenizer's ids of the answer marker line (set from the tokenizer by the caller).</summary>
    public IReadOnlyList<long> AnswerMarkerIds { get; init; } = [];
    /// <summary>
    /// Steps at the start that train on lettered find-the-word questions only (<see cref="PretrainCorpus.LetteredWarmup"/>)
    /// before the mix: the lettered answer step forms on such data alone but not when the same questions are spread
    /// through the mix (data/README.md). 0: the mix from the first step.
    /// </summary>
    public int LetteredWarmupSteps { get; init; }
    /// <summary>bf16 forward/backward with fp32 master weights in the optimizer.</summary>
    public bool Bf16 { get; init; }

    // Bookkeeping.
    public int Threads { get; init; } = 2;
    public int EvalEvery { get; init; } = 100;
    /// <summary>Validation sequences used by the periodic evaluation (the final one uses all).</summary>
    public int EvalSequences { get; init; } = 48;
    public int CheckpointEvery { get; init; } = 100;
    /// <summary>Stop (after checkpointing) once this much wall time has passed; 0: no limit.</summary>
    public double MaxMinutes { get; init; }

    /// <summary>Tokens per optimizer step.</summary>
    public long TokensPerStep => (long)SequenceLength * BatchSize * GradientAccumulation;

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
        Check(LetteredWarmupSteps >= 0 && LetteredWarmupSteps < Steps, "--lettered-warmup-steps", $"{LetteredWarmupSteps} must be >= 0 and below --steps {Steps}");
        Check(LearningRate > 0, "--lr", "must be positive");
        Check(VocabSize >= 2, "--vocab-size", "must be at least 2");
        Instructions.Validate();
        Check(AnswerWeight >= 0 && double.IsFinite(AnswerWeight), "--answer-weight", $"{AnswerWeight} must be a finite number >= 0");
    }
}
