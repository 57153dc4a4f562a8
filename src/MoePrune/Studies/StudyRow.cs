namespace MoePrune.Studies;

/// <summary>One measured perplexity: the seed it came from and the experts each layer kept.</summary>
public sealed record StudyMeasurement(int Seed, double Perplexity, IReadOnlyDictionary<int, int[]> Kept);

/// <summary>
/// One row of the study (a criterion with its direction, the random baseline, or NAEE): per ratio the
/// perplexities of all seeds, summarised as mean ± sample standard deviation (n − 1; 0 for one seed).
/// </summary>
public sealed class StudyRow
{
    public required string Name { get; init; }
    /// <summary>weight, inference, activation, gradient or baseline.</summary>
    public required string Group { get; init; }
    /// <summary>"calibration" when the seeds are calibration seeds, "random" for the random baseline's own seeds.</summary>
    public required string SeedKind { get; init; }
    public SortedDictionary<double, List<StudyMeasurement>> ByRatio { get; } = [];

    public void Add(double ratio, StudyMeasurement m)
    {
        if (!ByRatio.TryGetValue(ratio, out var list)) ByRatio[ratio] = list = [];
        list.Add(m);
    }

    public double Mean(double ratio) => ByRatio[ratio].Average(m => m.Perplexity);

    public double Sd(double ratio)
    {
        var v = ByRatio[ratio].Select(m => m.Perplexity).ToArray();
        if (v.Length < 2) return 0;
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
    }
}
