using System.Text.Json.Nodes;
using MoePrune.Jobs.FineTuning;
using MoePrune.Jobs.Strategies;
using MoePrune.Models;

namespace MoePrune.Studies.Lottery;

/// <summary>
/// Part c, the instruction-following conjecture (the paper's Fig. 7): the full model and the min-EAN lottery models at
/// each sparsity of <see cref="LotteryStudyRequest.RecoveryDrops"/> (and 2 of 8), scored on the cloze, lettered
/// (log-likelihood) and generated (accuracy, format_rate) forms of the same questions zero-shot, k-shot, and zero-shot
/// after answer-only SFT on lettered questions about other lemmas (<see cref="SftTaskFile"/>).
/// </summary>
public static class InstructionUnits
{
    public static IEnumerable<StudyUnit> All(LotteryStudyContext ctx, Action<string>? log)
    {
        var r = ctx.Request;
        string sftFile = Path.Combine(ctx.RunsDir, "c-sft", "sft-def2word.jsonl");
        yield return new StudyUnit("c-sft-data", 'c', () =>
        {
            SftTaskFile.Write(sftFile, r.SftExamples);
            return new JsonObject { ["file"] = Path.GetFullPath(sftFile), ["examples"] = File.ReadLines(sftFile).Count(), ["seed"] = SftTaskFile.Seed };
        });
        foreach (int drop in new[] { 0, 2 }.Concat(r.RecoveryDrops).Distinct())
            yield return new StudyUnit($"c-d{drop}", 'c', () => Measure(ctx, drop, sftFile, log));
    }

    static JsonObject Measure(LotteryStudyContext ctx, int drop, string sftFile, Action<string>? log)
    {
        var r = ctx.Request;
        ctx.Needs("c-sft-data");
        int batch = r.Calibration.BatchSize;
        var zeroShot = RoundTasks.Create(r.ModelDir, r.InstructionTasks, r.InstructionLimit, 0, batch);
        var kShot = RoundTasks.Create(r.ModelDir, r.InstructionTasks, r.InstructionLimit, r.Shots, batch);
        using var model = drop == 0 ? ModelLoader.Load(r.ModelDir) : ctx.RowModel("lottery", "min-ean", r.Seeds[0], drop);
        var result = new JsonObject
        {
            ["drop"] = drop, ["model"] = drop == 0 ? "full" : $"min-ean lottery, seed {r.Seeds[0]}, round {drop}",
            ["zero_shot"] = zeroShot(model), [$"shots_{r.Shots}"] = kShot(model),
        };
        log?.Invoke($"  c-d{drop}: zero- and {r.Shots}-shot done; SFT");
        var spec = new FineTuneSpec
        {
            Tokens = r.SftTokens, SftFile = sftFile, SequenceLength = 128, BatchSize = 8, Optimizer = new() { LearningRate = 3e-4 }, Train = "all",
            CheckpointEvery = 25,
        };
        result["sft"] = FineTuneRun.Run(model, spec, spec.Tokens, spec.Seed, r.ModelDir, null, Path.Combine(ctx.RunsDir, $"c-sft-d{drop}"));
        result["after_sft_zero_shot"] = zeroShot(model);
        result["after_sft_perplexity"] = ctx.Evaluation.Perplexity(model);
        return result;
    }
}
