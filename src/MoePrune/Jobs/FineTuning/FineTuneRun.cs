using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Training;

namespace MoePrune.Jobs.FineTuning;

/// <summary>
/// Runs one fine-tune of a model in place (<see cref="Trainer"/>) and returns what to record: the budget, the steps,
/// the roles, the objective, the data, the per-step losses and the speed. With a work folder the trainer checkpoints
/// there and a later call resumes bit for bit; the losses are then read back from its <c>log.jsonl</c> (the last line
/// of each step), so a resumed fine-tune records every step once.
/// </summary>
public static class FineTuneRun
{
    /// <param name="tokens">This fine-tune's budget (a lottery round's grown budget, or <see cref="FineTuneSpec.Tokens"/>).</param>
    /// <param name="seed">Data seed of this fine-tune.</param>
    /// <param name="tokenizerDir">Tokenizer of text data and task files.</param>
    /// <param name="teacher">The teacher of a distillation objective (no gradient; not changed).</param>
    public static JsonObject Run(MoeForCausalLM model, FineTuneSpec spec, long tokens, int seed, string tokenizerDir,
                                 MoeForCausalLM? teacher, string? workDir, Action<StepReport>? step = null)
    {
        if (spec.Objective == FineTuneObjective.Distill && teacher is null)
            throw new MoePruneException($"{spec.Names[FineTuneNames.Objective]} distill: needs a teacher model");
        var (data, description) = FineTuneData.Build(spec, tokenizerDir, model.Config.VocabSize, tokens, seed);
        var options = spec.ToTrainer(tokens);
        var trainer = new Trainer(options, workDir);
        if (step is not null) trainer.StepCompleted += step;
        var result = trainer.Train(model, data, spec.Objective == FineTuneObjective.Distill ? teacher : null);
        var (ce, distill) = workDir is null
            ? (result.Losses.ToList(), (List<double>?)null)
            : LoggedLosses(Path.Combine(workDir, "log.jsonl"), spec.Objective == FineTuneObjective.Distill);
        var state = result.State;
        var record = new JsonObject
        {
            ["tokens"] = state.TokensSeen,
            ["tokens_requested"] = tokens,
            ["steps"] = state.Step,
            ["train"] = options.Train.ToString(),
            ["objective"] = FineTuneSpec.Name(spec.Objective),
            ["learning_rate"] = spec.Optimizer.LearningRate,
            ["batch_size"] = spec.BatchSize,
            ["sequence_length"] = spec.SequenceLength,
            ["warmup_steps"] = options.WarmupSteps(spec.SequenceLength),
            ["data"] = description,
            ["loss_first"] = ce.Count > 0 ? ce[0] : null,
            ["loss_final"] = ce.Count > 0 ? ce.TakeLast(Math.Max(1, Math.Min(10, ce.Count / 5))).Average() : null,
            ["cross_entropy"] = Numbers(ce),
            ["seconds"] = Math.Round(state.ElapsedSeconds, 2),
            ["tokens_per_second"] = Math.Round(state.TokensSeen / Math.Max(1e-9, state.ElapsedSeconds), 1),
        };
        if (distill is not null) record["distillation"] = Numbers(distill);
        return record;
    }

    /// <summary>Per-step cross-entropy (and distillation term) from a trainer log: the last line of each step, in step order.</summary>
    public static (List<double> CrossEntropy, List<double>? Distillation) LoggedLosses(string log, bool distill)
    {
        var ce = new SortedDictionary<int, double>();
        var kl = new SortedDictionary<int, double>();
        if (File.Exists(log))
            foreach (var line in File.ReadLines(log))
            {
                if (string.IsNullOrWhiteSpace(line) || JsonNode.Parse(line) is not JsonObject o || o["ce"] is null) continue;
                int s = (int)o["step"]!;
                ce[s] = (double)o["ce"]!;
                if (o["distill"] is JsonNode d) kl[s] = (double)d;
            }
        return (ce.Values.ToList(), distill ? kl.Values.ToList() : null);
    }

    static JsonArray Numbers(IEnumerable<double> values) => new(values.Select(v => (JsonNode)Math.Round(v, 6)).ToArray());
}
