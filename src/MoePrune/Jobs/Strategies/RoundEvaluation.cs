using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Evaluation;
using MoePrune.Models;

namespace MoePrune.Jobs.Strategies;

/// <summary>
/// What every round of a strategy run is measured by: perplexity on fixed sequences (with the expert load of the
/// same forwards: each layer's share of routed assignments per expert and its entropy relative to uniform),
/// optionally KL(parent ‖ model) on the same sequences, and optionally tasks (a caller-supplied evaluator).
/// </summary>
public sealed class RoundEvaluation(IReadOnlyList<int[]> sequences, string description, int batchSize)
{
    /// <summary>The parent for the KL measurement (the original model); null: no KL.</summary>
    public MoeForCausalLM? Parent { get; init; }
    /// <summary>Task evaluation of a model (e.g. the evaluation harness on built-in tasks); null: none.</summary>
    public Func<MoeForCausalLM, JsonNode?>? Tasks { get; init; }
    /// <summary>KL of the parent against itself is 0; measuring it is skipped for the parent.</summary>
    public Func<MoeForCausalLM, MoeForCausalLM, IReadOnlyList<int[]>, JsonNode?>? Kl { get; init; }

    public string Description { get; } = description;
    public IReadOnlyList<int[]> Sequences { get; } = sequences;

    public RoundHooks With(RoundHooks hooks) => hooks with { Evaluate = round => Measure(round.Model) };

    /// <summary>Perplexity and expert load only (e.g. before a fine-tune).</summary>
    public JsonObject Perplexity(MoeForCausalLM model)
    {
        var clock = Stopwatch.StartNew();
        var load = new ExpertLoad();
        model.Observers.Add(load);
        PerplexityResult result;
        try { result = Evaluation.Perplexity.Evaluate(model, Sequences, batchSize); }
        finally { model.Observers.Remove(load); }
        return new JsonObject
        {
            ["perplexity"] = result.Perplexity, ["mean_nll"] = result.MeanNll, ["tokens"] = result.Tokens,
            ["load"] = Load(load), ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
        };
    }

    /// <summary>Perplexity, load, KL to the parent and tasks of <paramref name="model"/>.</summary>
    public JsonObject Measure(MoeForCausalLM model)
    {
        var record = Perplexity(model);
        record["data"] = Description;
        if (Parent is not null && Kl is not null && !ReferenceEquals(Parent, model)) record["kl"] = Kl(model, Parent, Sequences);
        if (Tasks is not null) record["tasks"] = Tasks(model);
        return record;
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
}
