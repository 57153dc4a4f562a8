using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Evaluation;
using MoePrune.Evaluation.Kl;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Jobs.Strategies;

/// <summary>
/// What every round of a strategy run is measured by, in ONE forward of the round model over fixed sequences:
/// perplexity, the expert load of the same forwards (each layer's share of routed assignments per expert and its
/// entropy relative to uniform), and with a <see cref="Parent"/> KL(parent ‖ model) of the next-token distributions
/// (mean, 99th percentile, top-1 agreement) against the parent's log-probabilities, computed once and kept (positions ×
/// vocabulary fp32); optionally tasks (a caller-supplied evaluator). <c>KlDivergence</c> of the evaluation harness is the
/// reference the tests compare with.
/// </summary>
public sealed class RoundEvaluation(IReadOnlyList<int[]> sequences, string description, int batchSize) : IDisposable
{
    List<Tensor>? _parentLogProbs;                                                        // per batch (N, V) fp32

    /// <summary>The parent for the KL measurement (the original model); null: no KL.</summary>
    public MoeForCausalLM? Parent { get; init; }
    /// <summary>Task evaluation of a model (e.g. the evaluation harness on built-in tasks); null: none.</summary>
    public Func<MoeForCausalLM, JsonNode?>? Tasks { get; init; }

    public string Description { get; } = description;
    public IReadOnlyList<int[]> Sequences { get; } = sequences.Where(s => s.Length >= 2).ToList();

    public RoundHooks With(RoundHooks hooks) => hooks with { Evaluate = round => Measure(round.Model) };

    /// <summary>Perplexity and expert load only (e.g. before a fine-tune).</summary>
    public JsonObject Perplexity(MoeForCausalLM model) => Pass(model, withKl: false);

    /// <summary>Perplexity, load, KL to the parent and tasks of <paramref name="model"/>.</summary>
    public JsonObject Measure(MoeForCausalLM model)
    {
        var record = Pass(model, withKl: Parent is not null && !ReferenceEquals(Parent, model));
        record["data"] = Description;
        if (Tasks is not null) record["tasks"] = Tasks(model);
        return record;
    }

    JsonObject Pass(MoeForCausalLM model, bool withKl)
    {
        if (Sequences.Count == 0) throw new MoePruneException("round evaluation: no sequence has at least 2 tokens");
        var clock = Stopwatch.StartNew();
        if (withKl) _parentLogProbs ??= Sequences.Chunk(batchSize).Select(c => LogProbs(Parent!, c).Item1.MoveToOuterDisposeScope()).ToList();
        var load = new ExpertLoad();
        model.Observers.Add(load);
        double nll = 0;
        long count = 0, agree = 0;
        var kls = new List<double>();
        try
        {
            int i = 0;
            foreach (var chunk in Sequences.Chunk(batchSize))
            {
                using var scope = NewDisposeScope();
                var (logProbs, targets) = LogProbs(model, chunk);                          // (N, V) fp32, (N, 1) int64
                nll -= logProbs.gather(1, targets).to(ScalarType.Float64).sum().item<double>();
                count += targets.shape[0];
                if (withKl)
                {
                    var parent = _parentLogProbs![i];                                     // (N, V) fp32
                    var kl = (parent.exp() * (parent - logProbs)).sum(-1);                 // (N) fp32
                    kls.AddRange(kl.to(ScalarType.Float64).data<double>().ToArray());
                    agree += logProbs.argmax(-1).eq(parent.argmax(-1)).sum().item<long>();
                }
                i++;
            }
        }
        finally { model.Observers.Remove(load); }
        var record = new JsonObject
        {
            ["perplexity"] = Math.Exp(nll / count), ["mean_nll"] = nll / count, ["tokens"] = count,
            ["load"] = Load(load), ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
        };
        if (withKl)
            record["kl"] = new JsonObject
            {
                ["mean"] = kls.Average(), ["p99"] = KlDivergence.Percentile(kls.Order().ToList(), 0.99),
                ["top1_agreement"] = (double)agree / kls.Count, ["positions"] = kls.Count,
            };
        return record;
    }

    /// <summary>Next-token log-probabilities (N, V) fp32 at every position that has a next token, and those tokens (N, 1).</summary>
    static (Tensor, Tensor) LogProbs(MoeForCausalLM model, IReadOnlyList<int[]> chunk)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var batch = TokenBatch.Pad(chunk);
        long t = batch.InputIds.shape[1];
        var logits = model.Logits(batch.InputIds, batch.AttentionMask);                     // (B, T, V)
        var rows = new List<long>();
        var next = new List<long>();
        for (int b = 0; b < chunk.Count; b++)
            for (int p = 0; p + 1 < chunk[b].Length; p++)
            {
                rows.Add(b * t + p);
                next.Add(chunk[b][p + 1]);
            }
        var flat = logits.reshape(-1, logits.shape[2]).index_select(0, tensor(rows.ToArray())); // (N, V)
        var logProbs = flat.to(ScalarType.Float32).log_softmax(-1);                          // (N, V) fp32
        var targets = tensor(next.ToArray()).unsqueeze(1);                                    // (N, 1) int64
        return (logProbs.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }

    /// <summary>Per layer: each expert's share of routed assignments and the distribution's entropy ÷ log(E) (1 = balanced).</summary>
    static JsonObject Load(ExpertLoad load)
    {
        var layers = new JsonObject();
        var entropies = new List<double>();
        foreach (int layer in load.Layers)
        {
            var f = load.Fractions(layer);
            double h = -f.Where(x => x > 0).Sum(x => x * Math.Log(x));
            double relative = f.Length > 1 ? h / Math.Log(f.Length) : 1;
            entropies.Add(relative);
            layers[layer.ToString()] = new JsonObject
            {
                ["shares"] = new JsonArray(f.Select(x => (JsonNode)Math.Round(x, 5)).ToArray()),
                ["relative_entropy"] = Math.Round(relative, 5),
                ["max_over_mean"] = Math.Round(f.Max() * f.Length, 4),
            };
        }
        return new JsonObject
        {
            ["relative_entropy_mean"] = entropies.Count > 0 ? Math.Round(entropies.Average(), 5) : null,
            ["layers"] = layers,
        };
    }

    public void Dispose()
    {
        foreach (var t in _parentLogProbs ?? []) t.Dispose();
        _parentLogProbs = null;
    }
}
