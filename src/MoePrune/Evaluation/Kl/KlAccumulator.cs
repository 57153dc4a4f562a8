using static TorchSharp.torch;

namespace MoePrune.Evaluation.Kl;

/// <summary>
/// The per-position math of <see cref="KlResult"/>, shared by the in-memory and the layer-by-layer gate: for each
/// right-padded batch, its predicting positions (each one with a next token) a chunk at a time through both output
/// projections and a float32 log-softmax — KL(parent ‖ model), whether both argmaxes agree, both next-token NLLs — so
/// that no (B, T, V) logits tensor is ever held. Batches must be added in order for the same percentile input. Without
/// a reference only the model's NLL accumulates (a perplexity from the same positions).
/// </summary>
public sealed class KlAccumulator(int positionsPerChunk = 1024)
{
    private readonly List<double> _kls = [];
    private long _agree, _positions;
    private double _nll, _referenceNll;
    private bool _withoutReference;

    /// <summary>Predicted positions added so far.</summary>
    public long Positions => _positions;
    /// <summary>The model's mean next-token NLL over them (nats).</summary>
    public double MeanNll => _nll / _positions;

    /// <summary>The sequences with at least 2 tokens, after checking every id against the vocabulary.</summary>
    public static List<int[]> Usable(IReadOnlyList<int[]> sequences, int vocab)
    {
        foreach (var s in sequences)
            foreach (int id in s)
                if (id < 0 || id >= vocab) throw new MoePruneException($"token id {id} is outside the vocabulary 0..{vocab - 1}");
        var usable = sequences.Where(s => s.Length >= 2).ToList();
        if (usable.Count == 0) throw new MoePruneException("no sequence has at least 2 tokens: nothing to predict");
        return usable;
    }

    /// <summary>
    /// Adds one batch of <paramref name="sequences"/>, right-padded to <paramref name="length"/>: the model's and the
    /// reference's final (normed) hidden states, each (B·T, H), with their output weights (V, H); no reference: the model's NLL only.
    /// </summary>
    public void Add(IReadOnlyList<int[]> sequences, long length, Tensor hidden, Tensor weight, Tensor? referenceHidden, Tensor? referenceWeight)
    {
        _withoutReference |= referenceHidden is null || referenceWeight is null;
        var positions = new List<long>();
        var targets = new List<long>();
        for (int b = 0; b < sequences.Count; b++)
            for (int p = 0; p + 1 < sequences[b].Length; p++)
            {
                positions.Add(b * length + p);
                targets.Add(sequences[b][p + 1]);
            }
        for (int start = 0; start < positions.Count; start += positionsPerChunk)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(positionsPerChunk, positions.Count - start);
            var index = tensor(positions.GetRange(start, n).ToArray());              // (N) int64
            var target = tensor(targets.GetRange(start, n).ToArray()).unsqueeze(1);  // (N, 1) int64
            var logQ = LogProbs(hidden, weight, index);                               // (N, V) fp32
            _positions += n;
            _nll -= logQ.gather(1, target).to(ScalarType.Float64).sum().item<double>();
            if (referenceHidden is null || referenceWeight is null) continue;
            var logP = LogProbs(referenceHidden, referenceWeight, index);             // (N, V) fp32
            var kl = (logP.exp() * (logP - logQ)).sum(-1);                            // (N) fp32
            _kls.AddRange(kl.to(ScalarType.Float64).data<double>().ToArray());
            _agree += logQ.argmax(-1).eq(logP.argmax(-1)).sum().item<long>();
            _referenceNll -= logP.gather(1, target).to(ScalarType.Float64).sum().item<double>();
        }
    }

    public KlResult Result()
    {
        if (_withoutReference) throw new InvalidOperationException("a batch was added without the reference: only the model's NLL is known");
        long count = _kls.Count;
        var sorted = _kls.Order().ToArray();
        return new KlResult(count, _kls.Sum() / count, KlDivergence.Percentile(sorted, 0.99), _agree / (double)count,
                            Math.Exp(_nll / count), Math.Exp(_referenceNll / count));
    }

    static Tensor LogProbs(Tensor hidden, Tensor weight, Tensor index) =>
        nn.functional.linear(hidden.index_select(0, index), weight)                   // (N, V)
          .to(ScalarType.Float32).log_softmax(-1);                                    // (N, V) fp32
}
