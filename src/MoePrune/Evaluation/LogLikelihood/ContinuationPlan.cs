using MoePrune.Evaluation.Tasks;
using static TorchSharp.torch;

namespace MoePrune.Evaluation.LogLikelihood;

/// <summary>
/// The rows and batches of <see cref="ContinuationScorer"/>, and the scoring of each batch from its final hidden states:
/// one layout whether the model runs in memory or layer by layer. The model reads context + continuation without its
/// last token, cut on the left to at most <c>maxLength</c> tokens; requests with the same context share one row when
/// one's input is a prefix of another's; rows are sorted by length (longest first) and cut into batches by
/// <see cref="RowBatches"/>. <see cref="ScoreBatch"/> sends only the positions that predict continuation tokens
/// through the output projection and a float32 log-softmax; <see cref="Result"/> gives the scores in request order.
/// </summary>
public sealed class ContinuationPlan
{
    sealed record Placement(int Row, int Start, int[] Targets);

    private readonly IReadOnlyList<ContinuationRequest> _requests;
    private readonly List<int[]> _rows;
    private readonly ILookup<int, (Placement Placement, int Request)> _byRow;
    private readonly int _truncated;
    private readonly ContinuationScore[] _scores;
    private long _forwarded;

    private ContinuationPlan(IReadOnlyList<ContinuationRequest> requests, List<int[]> rows, Placement?[] placements, int truncated,
                             List<int[]> batches)
    {
        _requests = requests;
        _rows = rows;
        _truncated = truncated;
        _byRow = placements.Select((p, i) => (p, i)).Where(x => x.p is not null).ToLookup(x => x.p!.Row, x => (x.p!, x.i));
        _scores = new ContinuationScore[requests.Count];
        Batches = batches;
        Done = requests.Count(r => r.Continuation.Length == 0);
    }

    /// <summary>Each batch's rows (indices into the row list), in the order they are run.</summary>
    public IReadOnlyList<int[]> Batches { get; }

    /// <summary>Requests scored so far (progress), those with nothing to score included.</summary>
    public int Done { get; private set; }

    /// <summary>The token ids of batch <paramref name="batch"/>'s rows, to be right-padded into one forward.</summary>
    public IReadOnlyList<int[]> BatchRows(int batch) => Batches[batch].Select(r => _rows[r]).ToList();

    public static ContinuationPlan Create(IReadOnlyList<ContinuationRequest> requests, int batchSize, int maxLength, int vocab, int batchTokens = 0)
    {
        if (batchSize < 1) throw new MoePruneException($"--batch-size: {batchSize} must be at least 1");
        var (rows, placements, truncated) = Layout(requests, maxLength, vocab);
        var order = Enumerable.Range(0, rows.Count).OrderByDescending(r => rows[r].Length).ThenBy(r => r).ToList();
        var batches = RowBatches.Split(order, r => rows[r].Length, batchSize, batchTokens).ToList();
        return new ContinuationPlan(requests, rows, placements, truncated, batches);
    }

    /// <summary>Scores the requests of batch <paramref name="batch"/> from its final (normed) hidden states (B, T, H) and the output weight (V, H).</summary>
    public void ScoreBatch(int batch, Tensor hidden, Tensor outputWeight)
    {
        using var scope = NewDisposeScope();
        var chunk = Batches[batch];
        long t = hidden.shape[1];
        var positions = new List<long>();
        var targets = new List<long>();
        var owners = new List<int>();
        for (int b = 0; b < chunk.Length; b++)
        {
            _forwarded += _rows[chunk[b]].Length;
            foreach (var (p, request) in _byRow[chunk[b]])
                for (int j = 0; j < p.Targets.Length; j++)
                {
                    positions.Add(b * t + p.Start + j);
                    targets.Add(p.Targets[j]);
                    owners.Add(request);
                }
        }
        var flat = hidden.reshape(-1, hidden.shape[2]);                                      // (B·T, H)
        var index = tensor(positions.ToArray());                                              // (N) int64
        var target = tensor(targets.ToArray());                                               // (N) int64
        var logits = nn.functional.linear(flat.index_select(0, index), outputWeight);         // (N, V)
        var logProbs = logits.to(ScalarType.Float32).log_softmax(-1);                         // (N, V) fp32
        var picked = logProbs.gather(1, target.unsqueeze(1)).squeeze(1);                     // (N) fp32
        var greedy = logits.argmax(-1).eq(target);                                            // (N) bool
        var values = picked.data<float>().ToArray();
        var isGreedy = greedy.data<bool>().ToArray();
        var sums = new Dictionary<int, (double Sum, bool Greedy)>();
        for (int k = 0; k < owners.Count; k++)
        {
            var (sum, all) = sums.GetValueOrDefault(owners[k], (0.0, true));
            sums[owners[k]] = (sum + values[k], all && isGreedy[k]);
        }
        foreach (var (request, (sum, all)) in sums) _scores[request] = new ContinuationScore(sum, all);
        Done += sums.Count;
    }

    /// <summary>The scores in request order (call after every batch was scored).</summary>
    public ScoredContinuations Result()
    {
        var scores = _scores.ToArray();
        for (int i = 0; i < _requests.Count; i++)
            if (_requests[i].Continuation.Length == 0) scores[i] = new ContinuationScore(0, true);
        long requested = _requests.Sum(r => (long)r.Context.Length + r.Continuation.Length);
        return new ScoredContinuations(scores, _forwarded, _rows.Count, _truncated, requested);
    }

    /// <summary>The distinct model inputs (rows) and where each request's targets sit in its row (null: nothing to score).</summary>
    static (List<int[]> Rows, Placement?[] Placements, int Truncated) Layout(IReadOnlyList<ContinuationRequest> requests, int maxLength, int vocab)
    {
        var rows = new List<int[]>();
        var placements = new Placement?[requests.Count];
        int truncated = 0;
        var groups = Enumerable.Range(0, requests.Count).GroupBy(i => requests[i].Context, SequenceComparer.Instance);
        foreach (var group in groups)
        {
            var inputs = new List<(int Request, int[] Input, int Start, int[] Targets)>();
            foreach (int i in group)
            {
                var r = requests[i];
                if (r.Continuation.Length == 0) continue;
                if (r.Context.Length == 0) throw new ArgumentException("a request has an empty context; the encoder supplies a start token", nameof(requests));
                if (r.Continuation.Length > maxLength)
                    throw new MoePruneException($"a continuation of {r.Continuation.Length} tokens does not fit the model's {maxLength} positions");
                foreach (int id in r.Context.Concat(r.Continuation))
                    if (id < 0 || id >= vocab) throw new MoePruneException($"token id {id} is outside the model's vocabulary 0..{vocab - 1}");
                int[] full = [.. r.Context, .. r.Continuation];
                if (full.Length > maxLength + 1) { full = full[^(maxLength + 1)..]; truncated++; }
                var input = full[..^1];
                inputs.Add((i, input, input.Length - r.Continuation.Length, r.Continuation));
            }
            var groupRows = new List<int>();
            foreach (var x in inputs.OrderByDescending(x => x.Input.Length))
            {
                int row = groupRows.FirstOrDefault(g => IsPrefix(x.Input, rows[g]), -1);
                if (row < 0)
                {
                    row = rows.Count;
                    rows.Add(x.Input);
                    groupRows.Add(row);
                }
                placements[x.Request] = new Placement(row, x.Start, x.Targets);
            }
        }
        return (rows, placements, truncated);
    }

    static bool IsPrefix(int[] prefix, int[] of) => prefix.Length <= of.Length && prefix.AsSpan().SequenceEqual(of.AsSpan(0, prefix.Length));

    sealed class SequenceComparer : IEqualityComparer<int[]>
    {
        public static readonly SequenceComparer Instance = new();
        public bool Equals(int[]? a, int[]? b) => a is not null && b is not null && a.AsSpan().SequenceEqual(b);
        public int GetHashCode(int[] a)
        {
            var h = new HashCode();
            foreach (int x in a) h.Add(x);
            return h.ToHashCode();
        }
    }
}
