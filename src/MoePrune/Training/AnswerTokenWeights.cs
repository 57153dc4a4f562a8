using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Training;

/// <summary>
/// Per-position loss weights that make the first token after every answer marker count <c>weight</c> times in
/// the training loss (every other position counts once): target weights for <see cref="TrainingBatch.TargetWeights"/>
/// that emphasise an instruction's answer inside plain language-model data (answer-only SFT instead masks with
/// <see cref="PromptAnswerDataset"/>). The marker is given as token ids (the tokenizer's encoding of <c>"### Answer:\n"</c>); a position whose
/// preceding tokens spell it is the row that predicts the answer's first token.
/// </summary>
public static class AnswerTokenWeights
{
    /// <param name="ids">(B, T) int64 token ids.</param>
    /// <returns>(B, T) fp32: <paramref name="weight"/> at rows that end a marker, 1 elsewhere.</returns>
    public static Tensor Rows(Tensor ids, IReadOnlyList<long> marker, double weight)
    {
        using var scope = NewDisposeScope();
        long b = ids.shape[0], t = ids.shape[1];
        int m = marker.Count;
        var ends = zeros(b, t, ScalarType.Bool, ids.device);                          // (B, T) row ends a marker
        if (m > 0 && t >= m)
        {
            var match = ones(b, t - m + 1, ScalarType.Bool, ids.device);              // (B, T-m+1) marker starts here
            for (int j = 0; j < m; j++)
                match = match.logical_and(ids.narrow(1, j, t - m + 1).eq(Scalars.Of(marker[j]))); // token j of the marker
            ends.narrow(1, m - 1, t - m + 1).copy_(match);                             // shift to the marker's last token
        }
        var w = ones(b, t, ScalarType.Float32, ids.device);                           // (B, T)
        w.masked_fill_(ends, Scalars.Of(weight));
        return w.MoveToOuterDisposeScope();
    }
}
