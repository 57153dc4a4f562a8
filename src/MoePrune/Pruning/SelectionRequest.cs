namespace MoePrune.Pruning;

/// <summary>An expert that selection must keep (<c>L:E</c>).</summary>
public readonly record struct ProtectedExpert(int Layer, int Expert);

/// <summary>
/// How many experts to remove: exactly one of <see cref="Drop"/> (per layer), <see cref="Keep"/> (per
/// layer) or <see cref="Ratio"/> (⌊E·ratio⌋ per layer, refused when that removes none: ask with a drop of 0). With <see cref="Global"/> the same total is
/// removed, but spread over layers by comparing per-layer-normalised scores. <see cref="Names"/> spells the
/// settings in error messages.
/// </summary>
public sealed record SelectionRequest
{
    public int? Drop { get; init; }
    public int? Keep { get; init; }
    public double? Ratio { get; init; }
    public bool Global { get; init; }
    public IReadOnlyList<ProtectedExpert> Protect { get; init; } = [];
    public OptionNames Names { get; init; } = OptionNames.Neutral;

    /// <summary>Experts removed from a layer of <paramref name="numExperts"/> experts by the per-layer rule.</summary>
    public int DropsFor(int numExperts)
    {
        int given = (Drop is null ? 0 : 1) + (Keep is null ? 0 : 1) + (Ratio is null ? 0 : 1);
        if (given != 1)
            throw new MoePruneException($"selection: give exactly one of {Names.OneOf(OptionNames.Drop, OptionNames.Keep, OptionNames.Ratio)}");
        if (Drop is { } d)
            return d >= 0 ? d : throw new MoePruneException($"{Names[OptionNames.Drop]}: {d} must not be negative");
        if (Keep is { } k)
            return numExperts - k;
        double r = Ratio!.Value;
        if (!(r > 0 && r < 1))
            throw new MoePruneException($"{Names[OptionNames.Ratio]}: {r} must be in (0, 1) ({Names[OptionNames.Drop]} 0 keeps every expert)");
        int drops = (int)Math.Floor(numExperts * r + 1e-9);
        if (drops == 0)
            throw new MoePruneException($"{Names[OptionNames.Ratio]}: {r} removes no expert of {numExperts} (⌊{numExperts} × {r}⌋ = 0); "
                + $"give at least {Math.Ceiling(1e4 / numExperts) / 1e4} or {Names[OptionNames.Drop]} N ({Names[OptionNames.Drop]} 0 keeps every expert)");
        return drops;
    }

    /// <summary>Experts kept in a layer of <paramref name="numExperts"/> experts by the per-layer rule.</summary>
    public int KeepFor(int numExperts) => numExperts - DropsFor(numExperts);

    /// <summary>Checks the settings that need no model (exactly one count, ranges).</summary>
    public void Check() => DropsFor(int.MaxValue / 2);

    /// <summary>Parses "L:E[,L:E…]" (e.g. "3:7,10:0").</summary>
    public static IReadOnlyList<ProtectedExpert> ParseProtect(string? text, OptionNames? names = null)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        var result = new List<ProtectedExpert>();
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = item.Split(':');
            if (parts.Length != 2 || !int.TryParse(parts[0], out int l) || !int.TryParse(parts[1], out int e) || l < 0 || e < 0)
                throw new MoePruneException($"{(names ?? OptionNames.Neutral)[OptionNames.Protect]}: '{item}' is not LAYER:EXPERT (e.g. 3:7)");
            result.Add(new ProtectedExpert(l, e));
        }
        return result;
    }
}
