using System.Text.Json.Nodes;

namespace MoePrune.Calibration;

/// <summary>One packed calibration sequence of exactly <see cref="CalibrationSet.SequenceLength"/> tokens and the source it came from.</summary>
public sealed record CalibrationSequence(string Source, int[] Ids);

/// <summary>
/// What one source contributed: sequences, tokens used, and the documents they were drawn from; for a source
/// with several strata (<c>brown</c>: its genres) the same per stratum.
/// </summary>
public sealed record CalibrationSourceUse(string Name, double Weight, int Sequences, long Tokens, int Documents)
{
    public IReadOnlyList<CalibrationStratumUse> Strata { get; init; } = [];
}

/// <summary>
/// Packed calibration data: N sequences × L tokens, grouped by source in spec order, plus what was used.
/// The same spec, sizes, seed and tokenizer always give the same sequences.
/// </summary>
public sealed class CalibrationSet
{
    public required string Spec { get; init; }
    public required int SequenceLength { get; init; }
    public required int Seed { get; init; }
    public required IReadOnlyList<CalibrationSequence> Sequences { get; init; }
    public required IReadOnlyList<CalibrationSourceUse> Sources { get; init; }

    public long Tokens => (long)Sequences.Count * SequenceLength;

    /// <summary>True when the data mixes several sources (the collector then keeps per-source statistics).</summary>
    public bool IsMix => Sources.Count > 1;

    /// <summary>One line for the statistics file and reports: spec, sizes and seed.</summary>
    public string Describe() => $"{Spec} ({Sequences.Count} x {SequenceLength} tokens, seed {Seed})";

    /// <summary>The calibration section of <c>scores.json</c>/<c>pruning.json</c> metadata.</summary>
    public JsonObject ToJson()
    {
        var sources = new JsonObject();
        foreach (var s in Sources)
        {
            var o = new JsonObject
            {
                ["weight"] = s.Weight, ["sequences"] = s.Sequences, ["tokens"] = s.Tokens, ["documents"] = s.Documents,
            };
            if (s.Strata.Count > 0)
            {
                var strata = new JsonObject();
                foreach (var t in s.Strata)
                    strata[t.Name] = new JsonObject { ["sequences"] = t.Sequences, ["tokens"] = t.Tokens, ["documents"] = t.Documents };
                o["genres"] = strata;
            }
            sources[s.Name] = o;
        }
        return new JsonObject
        {
            ["spec"] = Spec,
            ["sequences"] = Sequences.Count,
            ["sequence_length"] = SequenceLength,
            ["seed"] = Seed,
            ["tokens"] = Tokens,
            ["sources"] = sources,
        };
    }
}
