using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>One supervised example: the prompt's token ids and the answer's (the answer includes any end token).</summary>
public sealed record PromptAnswer(int[] Prompt, int[] Answer);

/// <summary>
/// Answer-only supervised fine-tuning data: each sequence is one example, prompt then answer, right-padded to
/// <see cref="SequenceLength"/> (an answer that does not fit is cut). The target weights are 1 at the rows that
/// predict an answer token and 0 elsewhere, so the prompt and the padding contribute nothing to the loss or
/// the gradient. Examples are visited epoch by epoch in a seeded order (<see cref="EpochOrder"/>).
/// </summary>
public sealed class PromptAnswerDataset : ITrainingData
{
    private readonly IReadOnlyList<PromptAnswer> _examples;
    private readonly EpochOrder _order;
    private readonly int _padId;

    public PromptAnswerDataset(IReadOnlyList<PromptAnswer> examples, int sequenceLength, long seed, int padId = 0)
    {
        if (examples.Count == 0) throw new MoePruneException("supervised data: no examples");
        for (int i = 0; i < examples.Count; i++)
        {
            var e = examples[i];
            if (e.Prompt.Length == 0 || e.Answer.Length == 0)
                throw new MoePruneException($"supervised data: example {i} has an empty prompt or answer");
            if (e.Prompt.Length >= sequenceLength)
                throw new MoePruneException($"supervised data: example {i}'s prompt of {e.Prompt.Length} tokens leaves no room for its answer in sequences of {sequenceLength}");
        }
        _examples = examples;
        _order = new EpochOrder(examples.Count, seed);
        _padId = padId;
        SequenceLength = sequenceLength;
    }

    public int SequenceLength { get; }

    public TrainingBatch Read(DataCursor at, int batchSize)
    {
        int t = SequenceLength;
        var ids = new long[(long)batchSize * t];
        var mask = new long[(long)batchSize * t];
        var weights = new float[(long)batchSize * t];
        for (int b = 0; b < batchSize; b++)
        {
            var e = _examples[_order.At(at.Position + b)];
            int length = Math.Min(t, e.Prompt.Length + e.Answer.Length);
            for (int i = 0; i < t; i++)
            {
                long k = (long)b * t + i;
                ids[k] = i >= length ? _padId : i < e.Prompt.Length ? e.Prompt[i] : e.Answer[i - e.Prompt.Length];
                mask[k] = i < length ? 1 : 0;
                // row i predicts token i+1: an answer token when prompt ≤ i+1 < length
                weights[k] = i + 1 >= e.Prompt.Length && i + 1 < length ? 1f : 0f;
            }
        }
        return new TrainingBatch(tensor(ids, [batchSize, t]), at.Position + batchSize,   // (B, T) int64
                                 tensor(mask, [batchSize, t]),                           // (B, T) int64
                                 tensor(weights, [batchSize, t]));                       // (B, T) fp32
    }
}
