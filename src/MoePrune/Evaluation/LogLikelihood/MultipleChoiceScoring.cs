using MoePrune.Evaluation.Tasks;

namespace MoePrune.Evaluation.LogLikelihood;

/// <summary>One scored multiple-choice document: each choice's summed log-probability and the two predictions.</summary>
public sealed record MultipleChoiceOutcome(MultipleChoiceDocument Document, double[] LogLikelihoods, int Prediction, int NormalizedPrediction)
{
    public bool Correct => Prediction == Document.Gold;
    public bool CorrectNormalized => NormalizedPrediction == Document.Gold;
}

/// <summary>
/// lm-evaluation-harness's multiple-choice metrics: <c>acc</c> takes the argmax of the choices' summed
/// log-probabilities, <c>acc_norm</c> the argmax of each sum divided by the choice's length in characters (Unicode
/// code points, as Python's <c>len</c>; the target delimiter not counted); ties go to the first choice.
/// </summary>
public static class MultipleChoiceScoring
{
    /// <summary>The requests of a document, one per choice: <c>prompt</c>, then <c>target_delimiter + choice</c>.</summary>
    public static IEnumerable<ContinuationRequest> Requests(ContinuationEncoder encoder, MultipleChoiceDocument doc, string prompt)
    {
        for (int i = 0; i < doc.Choices.Count; i++)
        {
            var request = encoder.Encode(prompt, doc.TargetDelimiter + doc.Choices[i]);
            if (request.Continuation.Length == 0)
                throw new MoePruneException($"{doc.Where}: choice {i} (\"{doc.Choices[i]}\") has no tokens of its own after the context");
            yield return request;
        }
    }

    public static MultipleChoiceOutcome Outcome(MultipleChoiceDocument doc, double[] logLikelihoods)
    {
        var normalized = logLikelihoods.Select((ll, i) => ll / CodePoints(doc.Choices[i])).ToArray();
        return new MultipleChoiceOutcome(doc, logLikelihoods, ArgMax(logLikelihoods), ArgMax(normalized));
    }

    /// <summary>Length in Unicode code points (a surrogate pair counts once).</summary>
    public static int CodePoints(string s) => s.EnumerateRunes().Count();

    /// <summary>Index of the first maximum.</summary>
    public static int ArgMax(IReadOnlyList<double> values)
    {
        int best = 0;
        for (int i = 1; i < values.Count; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}

/// <summary>A mean of 0/1 outcomes and its standard error.</summary>
public readonly record struct MeanWithError(double Mean, double? StandardError)
{
    /// <summary>
    /// The mean and lm-evaluation-harness's <c>mean_stderr</c>: the sample standard deviation (n − 1 in the
    /// denominator) over √n, i.e. √(p(1 − p)/(n − 1)) for 0/1 values; null when n &lt; 2.
    /// </summary>
    public static MeanWithError Of(IReadOnlyCollection<bool> outcomes)
    {
        int n = outcomes.Count;
        if (n == 0) return new MeanWithError(double.NaN, null);
        double p = outcomes.Count(o => o) / (double)n;
        return new MeanWithError(p, n < 2 ? null : Math.Sqrt(p * (1 - p) / (n - 1)));
    }
}
