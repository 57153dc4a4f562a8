namespace MoePrune.Jobs.Strategies;

/// <summary>
/// How the target is reached (the paper's Sec. 3): estimate once and cut (one-shot); cut a few experts per layer per
/// round, re-estimating the criterion on the already-pruned model before each round (iterative); the same with a
/// fine-tune after every cut (lottery).
/// </summary>
public enum PruneStrategy { OneShot, Iterative, Lottery }

/// <summary>Cheap recovery after a one-shot cut: a routers-only next-token fine-tune, or distillation from the parent.</summary>
public enum Recalibration { None, Routers, Distill }

public static class PruneStrategies
{
    public static PruneStrategy Parse(string text, string option) => text.Trim().ToLowerInvariant() switch
    {
        "one-shot" or "oneshot" => PruneStrategy.OneShot,
        "iterative" => PruneStrategy.Iterative,
        "lottery" => PruneStrategy.Lottery,
        _ => throw new MoePruneException($"{option}: '{text}' is not a strategy (one-shot, iterative or lottery)"),
    };

    public static string Name(PruneStrategy s) => s switch
    {
        PruneStrategy.OneShot => "one-shot",
        PruneStrategy.Iterative => "iterative",
        _ => "lottery",
    };

    public static Recalibration ParseRecalibration(string? text, string option) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "none" => Recalibration.None,
        "routers" => Recalibration.Routers,
        "distill" => Recalibration.Distill,
        _ => throw new MoePruneException($"{option}: '{text}' is not a recalibration (routers or distill)"),
    };

    public static string Name(Recalibration r) => r switch
    {
        Recalibration.Routers => "routers",
        Recalibration.Distill => "distill",
        _ => "none",
    };
}
