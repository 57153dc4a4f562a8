using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Pruning;

namespace MoePrune.Jobs;

/// <summary>
/// How a round chose: the method ("uniform", "global", "naee", "keep-map"), the per-layer selection in the
/// round model's CURRENT slot indices, the scores (current slots) or subsets behind it as a report, and the
/// calibration data's description.
/// </summary>
public sealed record RoundChoice(
    string Method,
    SortedDictionary<int, LayerSelection> Selections,
    CriterionScores? Scores,
    ScoresReport? Report,
    JsonObject? Calibration);
