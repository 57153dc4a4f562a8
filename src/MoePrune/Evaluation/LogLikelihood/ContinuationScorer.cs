using MoePrune.Evaluation.Tasks;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Evaluation.LogLikelihood;

/// <summary>Σ log p of a continuation's tokens (natural log) and whether each of them is the model's argmax.</summary>
public readonly record struct ContinuationScore(double LogLikelihood, bool IsGreedy);

/// <summary>
/// The scores in request order, the tokens run through the model, the rows they formed, how many requests lost
/// context tokens to the length limit, and the tokens the requests hold (context + continuation each, as if every
/// request had its own forward).
/// </summary>
public sealed record ScoredContinuations(IReadOnlyList<ContinuationScore> Scores, long TokensForwarded, int Rows, int Truncated, long TokensRequested);

/// <summary>
/// Scores many (context, continuation) requests with few forwards. The model reads context + continuation
/// without its last token, cut on the left to at most <c>maxLength</c> tokens (as lm-evaluation-harness does).
/// Requests with the same context share one row when one's input is a prefix of another's (all one-token
/// continuations of a context, e.g. answer letters, are read from one forward). Rows are sorted by length and
/// right-padded into batches of <c>batchSize</c> rows, or more short rows up to <c>batchTokens</c> padded tokens
/// (<see cref="RowBatches"/>); only the positions that predict continuation tokens go through the output projection
/// and a float32 log-softmax.
/// </summary>
public static class ContinuationScorer
{
    sealed record Placement(int Row, int Start, int[] Targets);

    public static ScoredContinuations Score(MoeForCausalLM model, IReadOnlyList<ContinuationRequest> requests, int batchSize,
                                            int maxLength, Action<int>? progress = null, int batchTokens = 0)
    {
        if (batchSize < 1) throw new MoePruneException($"--batch-size: {batchSize} must be at least 1");
        var (rows, placements, truncated) = Layout(requests, maxLength, model.Config.VocabSize);
        var scores = new ContinuationScore[requests.Count];
        var byRow = placements.Select((p, i) => (p, i)).Where(x => x.p is not null).ToLookup(x => x.p!.Row);
        var order = Enumerable.Range(0, rows.Count).OrderByDescending(r => rows[r].Length).ThenBy(r => r).ToList();
        long forwarded = 0;
        int done = requests.Count(r => r.Continuation.Length == 0);
        using var inference = inference_mode();
        foreach (var chunk in RowBatches.Split(order, r => rows[r].Length, batchSize, batchTokens))
        {
            using var scope = NewDisposeScope();
            using var batch = TokenBatch.Pad(chunk.Select(r => rows[r]).ToList());
            long t = batch.InputIds.shape[1];
            var hidden = model.Model.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask)).LastHiddenState; // (B, T, H)
            var positions = new List<long>();
            var targets = new List<long>();
            var owners = new List<int>();
            for (int b = 0; b < chunk.Length; b++)
            {
                forwarded += rows[chunk[b]].Length;
                foreach (var (p, request) in byRow[chunk[b]])
                    for (int j = 0; j < p!.Targets.Length; j++)
                    {
                        positions.Add(b * t + p.Start + j);
                        targets.Add(p.Targets[j]);
                        owners.Add(request);
                    }
            }
            var flat = hidden.reshape(-1, hidden.shape[2]);                                  // (B·T, H)
            using var index = tensor(positions.ToArray());                                    // (N) int64
            using var target = tensor(targets.ToArray());                                     // (N) int64
            var logits = nn.functional.linear(flat.index_select(0, index), model.OutputWeight); // (N, V)
            var logProbs = logits.to(ScalarType.Float32).log_softmax(-1);                     // (N, V) fp32
            var picked = logProbs.gather(1, target.unsqueeze(1)).squeeze(1);                 // (N) fp32
            var greedy = logits.argmax(-1).eq(target);                                        // (N) bool
            var values = picked.data<float>().ToArray();
            var isGreedy = greedy.data<bool>().ToArray();
            var sums = new Dictionary<int, (double Sum, bool Greedy)>();
            for (int k = 0; k < owners.Count; k++)
            {
                var (sum, all) = sums.GetValueOrDefault(owners[k], (0.0, true));
                sums[owners[k]] = (sum + values[k], all && isGreedy[k]);
            }
            foreach (var (request, (sum, all)) in sums) scores[request] = new ContinuationScore(sum, all);
            done += sums.Count;
            progress?.Invoke(done);
        }
        for (int i = 0; i < requests.Count; i++)
            if (requests[i].Continuation.Length == 0) scores[i] = new ContinuationScore(0, true);
        long requested = requests.Sum(r => (long)r.Context.Length + r.Continuation.Length);
        return new ScoredContinuations(scores, forwarded, rows.Count, truncated, requested);
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
