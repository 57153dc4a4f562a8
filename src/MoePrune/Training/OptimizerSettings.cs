using System.Globalization;

namespace MoePrune.Training;

/// <summary>
/// The optimizer half of a training run: AdamW's betas, epsilon and decoupled weight decay, the peak learning rate
/// and the cosine's floor (<see cref="MinLrRatio"/> · <see cref="LearningRate"/> at the last step), and the global
/// gradient-norm clip. <see cref="TrainerOptions"/>, pretraining and fine-tuning all carry one.
/// </summary>
public sealed record OptimizerSettings
{
    /// <summary>Neutral names of the settings (a front end spells them through <see cref="OptionNames"/>).</summary>
    public const string LearningRateName = "learning rate", MinLrRatioName = "minimum learning-rate ratio",
                        WeightDecayName = "weight decay", BetasName = "AdamW betas", EpsilonName = "AdamW epsilon", ClipNormName = "clip norm";

    /// <summary>Peak learning rate (after the linear warmup).</summary>
    public double LearningRate { get; init; } = 1e-4;
    /// <summary>The cosine decays to MinLrRatio · LearningRate at the last step.</summary>
    public double MinLrRatio { get; init; } = 0.1;
    /// <summary>Decoupled weight decay, on matrices other than norms and embeddings.</summary>
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Global gradient-norm clip (0: off).</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>Throws, naming the setting as <paramref name="names"/> spells it, for settings that cannot train.</summary>
    public void Validate(OptionNames names)
    {
        void Check(bool ok, string setting, string what) { if (!ok) throw new MoePruneException($"{names[setting]}: {what}"); }
        Check(LearningRate > 0 && double.IsFinite(LearningRate), LearningRateName, $"{LearningRate} must be a positive number");
        Check(MinLrRatio is >= 0 and <= 1, MinLrRatioName, $"{MinLrRatio} must be in [0, 1]");
        Check(WeightDecay >= 0, WeightDecayName, $"{WeightDecay} must be >= 0");
        Check(Beta1 is >= 0 and < 1 && Beta2 is >= 0 and < 1, BetasName, $"({Beta1}, {Beta2}) must be in [0, 1)");
        Check(Epsilon > 0, EpsilonName, $"{Epsilon} must be positive");
        Check(ClipNorm >= 0, ClipNormName, $"{ClipNorm} must be >= 0");
    }

    /// <summary>"AdamW (0.9, 0.95), weight decay 0.1, clip 1.0" (the clip part "no clip" when off).</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"AdamW ({Beta1}, {Beta2}), weight decay {WeightDecay}, {(ClipNorm > 0 ? $"clip {ClipNorm:0.0###}" : "no clip")}");
}
