using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Jobs;
using MoePrune.Jobs.FineTuning;
using MoePrune.Models;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune finetune [MODEL] --tokens N [--data SPEC | --sft TASK.jsonl] [--train ROLES] [--objective lm|distill
/// --teacher DIR] --out DIR</c>: next-token fine-tuning (or distillation, or answer-only SFT) of the selected roles; writes
/// a standard checkpoint with <c>finetune.json</c> (<see cref="FinetuneJob"/>).
/// </summary>
public static class FinetuneCommand
{
    public static Command Create()
    {
        var dir = ModelOptions.ModelDir();
        var output = OutputOptions.Out("Output model folder");
        var force = OutputOptions.Force();
        var teacher = new Option<string?>("--teacher") { Description = "Teacher model of --objective distill (normally the unpruned parent)" };
        var sft = new Option<string?>("--sft") { Description = "Task JSONL: train on its documents' answers only (its train split, or all documents when it has none)" };
        var work = new Option<string?>("--work") { Description = "Trainer work folder (log.jsonl, checkpoints); rerunning with it resumes" };
        var dtype = ModelOptions.Dtype();
        var ft = FineTuneOptions.Create("", 200_000);
        var cmd = new Command("finetune", "Fine-tune (next-token, distillation or answer-only SFT) the selected roles of a checkpoint")
            { dir, output, force, teacher, sft, work, dtype };
        ft.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            bool json = pr.GetValue(GlobalOptions.Json);
            var names = ft.Names(CliOptionNames.Map);
            var spec = ft.Bind(pr, names) with { SftFile = pr.GetValue(sft) };
            if (spec.SftFile is not null && pr.GetValue(ft.Data) is not null)
                throw new MoePruneException("--sft: replaces --data; give one of them");
            var request = new FinetuneRequest
            {
                ModelDir = pr.Model(dir), OutDir = pr.GetValue(output)!, Force = pr.GetValue(force), Spec = spec,
                TeacherDir = pr.GetValue(teacher), WorkDir = pr.GetValue(work), Dtype = pr.DtypeValue(dtype),
            };
            var record = FinetuneJob.Run(request, json ? null : s =>
            {
                if (s.Step == 1 || s.Step == s.TotalSteps || s.Step % 10 == 0)
                    Console.Error.WriteLine($"step {s.Step}/{s.TotalSteps}  loss {s.Loss:F4}  ce {s.CrossEntropy:F4}  lr {s.LearningRate:E2}  {s.TokensPerSecond:F0} tokens/s");
            });
            if (json)
            {
                CliRunner.PrintJson(new JsonObject { ["out"] = request.OutDir, ["finetune"] = record.DeepClone() });
                return 0;
            }
            var result = record["result"]!;
            Console.WriteLine($"trained {result["train"]} ({result["objective"]}) on {result["tokens"]} tokens in {result["steps"]} steps: " +
                              $"loss {(double?)result["loss_first"]:F4} -> {(double?)result["loss_final"]:F4}, {(double?)result["tokens_per_second"]:F0} tokens/s");
            Console.WriteLine($"wrote {request.OutDir} ({FinetuneJob.RecordFile} inside)");
            return 0;
        });
        return cmd;
    }
}
