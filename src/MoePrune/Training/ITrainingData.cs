using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>
/// Where a micro-batch is read: the optimizer step, the micro-batch's global index (step · accumulation + micro)
/// and the data position the run has reached (the number of sequences consumed, as each source counts it).
/// </summary>
public readonly record struct DataCursor(int Step, long MicroBatch, long Position);

/// <summary>
/// One micro-batch: token ids (B, T) int64, an optional right-padding mask (B, T) (1 = real token) and optional
/// target weights (B, T) fp32 — the weight of row (b, t), the row that predicts token t+1 (0 drops the row from
/// the loss: answer-only SFT) — and the data position after this batch.
/// </summary>
public sealed record TrainingBatch(Tensor InputIds, long NextPosition, Tensor? AttentionMask = null, Tensor? TargetWeights = null);

/// <summary>
/// A training data source read by <see cref="Trainer"/>. A batch must depend only on the cursor (not on
/// earlier calls), so that a run resumed from a checkpoint reads exactly the batches an uninterrupted run reads.
/// Tensors are created in the caller's dispose scope.
/// </summary>
public interface ITrainingData
{
    /// <summary>Tokens per sequence (T): the token budget counts B · T per micro-batch.</summary>
    int SequenceLength { get; }

    TrainingBatch Read(DataCursor at, int batchSize);
}
