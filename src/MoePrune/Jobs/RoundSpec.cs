using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Pruning;

namespace MoePrune.Jobs;

/// <summary>
/// What one pruning round chooses by: a criterion (scored on the round's model, or read from
/// <see cref="ScoresFile"/>) with a <see cref="Selection"/>, or an explicit <see cref="KeepMapFile"/> of original
/// expert indices. <see cref="Names"/> spells the settings in error messages.
/// </summary>
public sealed record RoundSpec
{
    /// <summary>Criterion to score or select by; exactly one of it and <see cref="KeepMapFile"/>.</summary>
    public CriterionSpec? Criterion { get; init; }
    /// <summary>A <c>scores.json</c> computed on the round's model as loaded (first round only).</summary>
    public string? ScoresFile { get; init; }
    /// <summary>JSON object: decoder-layer index → kept ORIGINAL expert indices.</summary>
    public string? KeepMapFile { get; init; }
    public SelectionRequest Selection { get; init; } = new();
    public CalibrationSettings Calibration { get; init; } = new();
    /// <summary>
    /// Remove the model's MTP layers (and write <c>num_nextn_predict_layers: 0</c>) instead of pruning their experts to the
    /// main layers' count by weight norm (<see cref="MtpChoice"/>).
    /// </summary>
    public bool DropMtp { get; init; }
    public OptionNames Names { get; init; } = OptionNames.Neutral;

    /// <summary>True when the layers may end with different expert counts (a global budget).</summary>
    public bool NonUniform => Selection.Global;

    /// <summary>The selection request as recorded: counts, global, protected experts.</summary>
    public JsonObject SelectionJson() => new()
    {
        ["drop"] = Selection.Drop, ["keep"] = Selection.Keep, ["ratio"] = Selection.Ratio, ["global"] = Selection.Global,
        ["protect"] = new JsonArray(Selection.Protect.Select(p => (JsonNode)JsonValue.Create($"{p.Layer}:{p.Expert}")).ToArray()),
    };

    /// <summary>Everything that decides the round's outcome, for a run folder's settings (resume refuses other settings).</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["criterion"] = Criterion?.Name,
            ["scores_file"] = ScoresFile is null ? null : Path.GetFullPath(ScoresFile),
            ["keep_map_file"] = KeepMapFile is null ? null : Path.GetFullPath(KeepMapFile),
            ["selection"] = SelectionJson(),
            ["calibration"] = new JsonObject
            {
                ["spec"] = Calibration.Spec, ["sequences"] = Calibration.Sequences, ["length"] = Calibration.Length,
                ["seed"] = Calibration.Seed, ["batch_size"] = Calibration.BatchSize, ["input_sample_rows"] = Calibration.InputSampleRows,
            },
        };
        if (DropMtp) json["drop_mtp"] = true;                                          // absent when false: older run folders resume
        return json;
    }

    /// <summary>The checks that need no model.</summary>
    public void Check()
    {
        var n = Names;
        if ((Criterion is null) == (KeepMapFile is null))
            throw new MoePruneException($"pruning round: give exactly one of {n[OptionNames.Criterion]} and {n[OptionNames.KeepMap]}");
        Calibration.Check(n);
        if (KeepMapFile is not null)
        {
            var s = Selection;
            if (s.Drop is not null || s.Keep is not null || s.Ratio is not null || s.Protect.Count > 0 || ScoresFile is not null)
                throw new MoePruneException($"{n[OptionNames.KeepMap]}: lists the kept experts itself; do not combine it with "
                    + n.OneOf(OptionNames.Drop, OptionNames.Keep, OptionNames.Ratio, OptionNames.Protect, OptionNames.Scores));
            return;
        }
        Selection.Check();
    }
}
