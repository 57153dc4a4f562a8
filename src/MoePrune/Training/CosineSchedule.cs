namespace MoePrune.Training;

/// <summary>
/// Linear warmup then cosine decay: lr(s) = peak · (s+1)/warmup for s &lt; warmup, then
/// min + (peak − min) · ½(1 + cos(π · p)) with p = (s − warmup)/(total − 1 − warmup) ∈ [0, 1], min = ratio · peak.
/// Step s is 0-based; the first step has a non-zero rate and the last reaches the minimum exactly.
/// </summary>
public sealed record CosineSchedule(double Peak, int WarmupSteps, int TotalSteps, double MinRatio)
{
    public double At(int step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        double min = MinRatio * Peak;
        int span = Math.Max(1, TotalSteps - 1 - WarmupSteps);
        double progress = Math.Clamp((double)(step - WarmupSteps) / span, 0, 1);
        return min + (Peak - min) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
