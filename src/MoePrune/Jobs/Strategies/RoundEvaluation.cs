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
/// (mean, 99th percentile, top-1 agreement) against the parent's final hidden states, computed once and kept
/// (positions × hidden size), through the evaluation harness's <see cref="KlAccumulator"/>; optionally tasks (a
/// caller-supplied evaluator). <c>KlDivergence</c> of the evaluation harness is the reference the tests compare with.
/// </summary>
public sealed class RoundEvaluation(IReadOnlyList<int[]> sequences, string description, int batchSize) : IDisposable
{
    List<Tensor>? _parentHidden;                                                          // per batch (B·T, H)

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
        using var inference = inference_mode();
        if (withKl) _parentHidden ??= Sequences.Chunk(batchSize).Select(c => Hidden(Parent!, c).DetachFromDisposeScope()).ToList();
        var load = new ExpertLoad();
        model.Observers.Add(load);
        var sum = new KlAccumulator();
        try
        {
            int i = 0;
            foreach (var chunk in Sequences.Chunk(batchSize))
            {
                using var scope = NewDisposeScope();
                var hidden = Hidden(model, chunk);                                         // (B·T, H)
                long length = chunk.Max(s => s.Length);
                sum.Add(chunk, length, hidden, model.OutputWeight, withKl ? _parentHidden![i] : null, withKl ? Parent!.OutputWeight : null);
                i++;
            }
        }
        finally { model.Observers.Remove(load); }
        var record = new JsonObject
        {
            ["perplexity"] = Math.Exp(sum.MeanNll), ["mean_nll"] = sum.MeanNll, ["tokens"] = sum.Positions,
            ["load"] = Load(load), ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
        };
        if (withKl)
        {
            var kl = sum.Result();
            record["kl"] = new JsonObject
            {
                ["mean"] = kl.Mean, ["p99"] = kl.P99, ["top1_agreement"] = kl.Top1Agreement, ["positions"] = (int)kl.Positions,
            };
        }
        return record;
    }

    /// <summary>The final (normed) hidden states of a right-padded batch, (B·T, H).</summary>
    static Tensor Hidden(MoeForCausalLM model, IReadOnlyList<int[]> chunk)
    {
        using var scope = NewDisposeScope();
        using var batch = TokenBatch.Pad(chunk);
        var hidden = model.Model.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask)).LastHiddenState; // (B, T, H)
        return hidden.reshape(-1, hidden.shape[2]).MoveToOuterDisposeScope();                // (B·T, H)
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
        foreach (var t in _parentHidden ?? []) t.Dispose();
        _parentHidden = null;
    }
}
