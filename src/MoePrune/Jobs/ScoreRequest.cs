using MoePrune.Criteria;
using MoePrune.Criteria.Statistics;
using static TorchSharp.torch;

namespace MoePrune.Jobs;

/// <summary>What <c>moeprune score</c> computes; see <see cref="ScoreJob.Run"/>.</summary>
public sealed record ScoreRequest
{
    public required string ModelDir { get; init; }
    public required string OutFile { get; init; }
    /// <summary>Replace existing output files (<see cref="OutFile"/>, <see cref="SaveStats"/>).</summary>
    public bool Force { get; init; }
    public IReadOnlyList<CriterionSpec> Criteria { get; init; } = CriterionSpec.AllScores;
    public CalibrationSettings Calibration { get; init; } = new();
    /// <summary>Writes the pass's statistics here (for a later <see cref="MergeStats"/>).</summary>
    public string? SaveStats { get; init; }
    /// <summary>Statistics files of earlier passes on the same checkpoint: their merge replaces the calibration pass.</summary>
    public IReadOnlyList<string> MergeStats { get; init; } = [];
    /// <summary>Experts a subset selector (naee) keeps per layer; half the experts (at least top-k) when null.</summary>
    public int? SubsetKeep { get; init; }
    public ScalarType? Dtype { get; init; }
    public OptionNames Names { get; init; } = OptionNames.Neutral;
}

/// <summary>The report (already written), the statistics behind it, and the pass's speed.</summary>
public sealed record ScoreResult(ScoresReport Report, CriteriaStats? Stats, long CalibrationTokens, double PassSeconds);
