namespace MoePrune.Training.Pretrain;

/// <summary>
/// Adds <see cref="AnswerTokenWeights"/> to every batch of <paramref name="inner"/>: the row that predicts the
/// first token after each answer marker weighs <paramref name="weight"/>, every other row 1 (to be normalised
/// per row, <see cref="TargetNormalization.RowMean"/>).
/// </summary>
public sealed class AnswerWeightedSource(ITrainingData inner, IReadOnlyList<long> marker, double weight) : ITrainingData
{
    public int SequenceLength => inner.SequenceLength;

    public TrainingBatch Read(DataCursor at, int batchSize)
    {
        var batch = inner.Read(at, batchSize);
        return batch with { TargetWeights = AnswerTokenWeights.Rows(batch.InputIds, marker, weight) };  // (B, T) fp32
    }
}
