namespace MoePrune.Training;

/// <summary>How target weights (<see cref="TrainingBatch.TargetWeights"/>) turn per-row terms into one loss.</summary>
public enum TargetNormalization
{
    /// <summary>Σ w·term / Σ w: the mean over the weighted rows (answer-only SFT with a 0/1 mask).</summary>
    WeightedMean,
    /// <summary>Σ w·term / (rows with w &gt; 0): emphasis weights that make some rows count more than once.</summary>
    RowMean,
}

/// <summary>
/// The training objective: <c>CrossEntropy</c> · next-token cross-entropy + <c>Distillation</c> · KL(teacher ‖ student)
/// of the next-token distributions + <c>AuxLossCoef</c> · load-balancing loss + <c>ZLossCoef</c> · router z-loss.
/// Rows without a target (the last position, padding) never count; with target weights each row's
/// cross-entropy and KL are weighted and normalised as <see cref="Normalization"/> says.
/// </summary>
public sealed record LossSpec
{
    public double CrossEntropy { get; init; } = 1;
    /// <summary>Weight of KL(teacher ‖ student); non-zero needs a teacher model.</summary>
    public double Distillation { get; init; }
    /// <summary>Coefficient of the load-balancing loss (HF <c>router_aux_loss_coef</c>).</summary>
    public double AuxLossCoef { get; init; }
    /// <summary>Balance each layer on its own (<see cref="LoadBalancingLoss.ComputePerLayer"/>) instead of all layers' rows together.</summary>
    public bool AuxPerLayer { get; init; }
    /// <summary>Coefficient of the router z-loss (0: off).</summary>
    public double ZLossCoef { get; init; }
    public TargetNormalization Normalization { get; init; } = TargetNormalization.WeightedMean;

    public bool NeedsRouterLogits => AuxLossCoef != 0 || ZLossCoef != 0;

    /// <summary>Throws for an objective that cannot train.</summary>
    public void Validate(bool hasTeacher)
    {
        foreach (var (name, value) in new[] { ("cross-entropy", CrossEntropy), ("distillation", Distillation), ("load-balancing", AuxLossCoef), ("z-loss", ZLossCoef) })
            if (!double.IsFinite(value) || value < 0)
                throw new MoePruneException($"loss: the {name} weight {value} must be a finite number >= 0");
        if (CrossEntropy == 0 && Distillation == 0)
            throw new MoePruneException("loss: both the cross-entropy and the distillation weight are 0");
        if (Distillation != 0 && !hasTeacher)
            throw new MoePruneException("loss: distillation needs a teacher model");
    }
}
