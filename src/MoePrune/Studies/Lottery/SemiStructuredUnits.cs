using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.Models;
using MoePrune.Pruning;
using MoePrune.Pruning.SemiStructured;
using static TorchSharp.torch;

namespace MoePrune.Studies.Lottery;

/// <summary>
/// Part f: 2:4 weight pruning of the experts (magnitude and Wanda, masks applied in memory) against dropping half of
/// the experts (the paper's Table 4), and the memory and forward throughput of expert-dropped models against the full
/// model (its Table 7).
/// </summary>
public static class SemiStructuredUnits
{
    public static IEnumerable<StudyUnit> All(LotteryStudyContext ctx, Action<string>? log)
    {
        yield return new StudyUnit("f-two-four", 'f', () => TwoFour(ctx));
        yield return new StudyUnit("f-speed", 'f', () => Speed(ctx));
    }

    static JsonObject TwoFour(LotteryStudyContext ctx)
    {
        var r = ctx.Request;
        var original = ctx.Original;
        using var norms = new WandaNorms();
        var data = CalibrationPacker.ForModel(r.ModelDir, r.Calibration.Spec, r.Calibration.Sequences, r.Calibration.Length, r.Seeds[0], original.Config.VocabSize);
        original.Observers.Add(norms);
        try
        {
            using var inference = inference_mode();
            foreach (var chunk in data.Sequences.Chunk(r.Calibration.BatchSize))
            {
                using var scope = NewDisposeScope();
                var ids = tensor(chunk.SelectMany(s => s.Ids.Select(x => (long)x)).ToArray(), [chunk.Length, data.SequenceLength]); // (B, T)
                original.Logits(ids);
            }
        }
        finally { original.Observers.Remove(norms); }
        var result = new JsonObject { ["calibration_tokens"] = data.Tokens };
        foreach (var method in new[] { TwoFourMethod.Magnitude, TwoFourMethod.Wanda })
        {
            using var model = ExpertSurgery.Apply(original, ExpertPlan.Keep(new Dictionary<int, IReadOnlyList<int>>()));
            var (zeroed, total) = TwoFourPruning.Apply(model, method, method == TwoFourMethod.Wanda ? norms : null);
            var evaluation = ctx.Evaluation.Measure(model);
            evaluation["tasks"] = ctx.Tasks(model);
            evaluation["zeroed_expert_weights"] = zeroed;
            evaluation["expert_weights"] = total;
            result[method == TwoFourMethod.Wanda ? "wanda" : "magnitude"] = evaluation;
        }
        return result;
    }

    /// <summary>Parameter bytes and forward tokens/s (batch 8 × 256 random ids, rounds interleaved over the models, median per model).</summary>
    static JsonObject Speed(LotteryStudyContext ctx)
    {
        var r = ctx.Request;
        var cuts = ctx.Needs(LotteryStudy.OneShotUnit(r.Seeds[0]))["rows"]!["min-ean"]!;
        var models = new List<(string Name, MoeForCausalLM Model)> { ("full", ctx.Original) };
        foreach (int drop in r.RecoveryDrops)
            models.Add(($"drop {drop} of 8", ctx.Keep(LotteryStudyContext.Kept(cuts[drop.ToString()]!["kept"]!.AsObject()))));
        const int rounds = 7, batch = 8, length = 256;
        var times = models.ToDictionary(m => m.Name, _ => new List<double>());
        try
        {
            using var inference = inference_mode();
            using var ids = randint(0, ctx.Original.Config.VocabSize, [batch, length], dtype: ScalarType.Int64, generator: new Generator(7)); // (B, T)
            for (int round = 0; round < rounds; round++)
                foreach (var (name, model) in models)
                {
                    using var scope = NewDisposeScope();
                    var clock = Stopwatch.StartNew();
                    model.Logits(ids);
                    if (round > 0) times[name].Add(clock.Elapsed.TotalSeconds);                // round 0 warms up
                }
            var result = new JsonObject { ["batch"] = batch, ["length"] = length, ["repetitions"] = rounds - 1, ["threads"] = get_num_threads() };
            var rows = new JsonObject();
            double fullRate = 0;
            long fullBytes = 0;
            foreach (var (name, model) in models)
            {
                var t = times[name].Order().ToList();
                double median = t[t.Count / 2], rate = batch * length / median;
                long bytes = model.parameters().Sum(p => p.numel() * p.element_size());
                var (totalParams, active) = model.CountParameters();
                if (name == "full") { fullRate = rate; fullBytes = bytes; }
                rows[name] = new JsonObject
                {
                    ["parameter_bytes"] = bytes, ["parameters"] = totalParams, ["active_parameters"] = active,
                    ["memory_ratio"] = (double)bytes / fullBytes, ["tokens_per_second"] = rate, ["speedup"] = rate / fullRate,
                    ["seconds"] = new JsonArray(t.Select(x => (JsonNode)Math.Round(x, 4)).ToArray()),
                };
            }
            result["models"] = rows;
            return result;
        }
        finally
        {
            foreach (var (name, model) in models.Skip(1)) model.Dispose();
        }
    }
}
