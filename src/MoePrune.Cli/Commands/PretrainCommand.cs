using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Data;
using MoePrune.Training;
using MoePrune.Training.Pretrain;
using Spectre.Console;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune pretrain --out DIR [options]</c>: trains a Mixtral-architecture MoE (or with <c>--dense</c> a
/// dense model with the same active parameters) from scratch on the training mix and writes a Hugging Face
/// checkpoint. Work files (tokenizer, token cache, checkpoint, log.jsonl) live in <c>--work</c>
/// (default <c>DIR.work</c>); rerunning resumes from its checkpoint. The workflow is <see cref="PretrainJob"/>;
/// this command binds the options and shows progress (the global <c>--threads</c> sets the torch threads).
/// </summary>
public static class PretrainCommand
{
    public static Command Create()
    {
        var d = new PretrainOptions();
        var optimizer = d.Optimizer;
        var output = OutputOptions.Out("Output model folder (with --evaluate-only: the trained model to evaluate)");
        var force = OutputOptions.Force();
        var work = new Option<string?>("--work") { Description = "Work folder for tokenizer, token cache, checkpoint and log (default: OUT.work)" };
        Option<T> Opt<T>(string name, string description, T fallback) => new(name) { Description = description, DefaultValueFactory = _ => fallback };
        var hidden = Opt("--hidden", "Hidden size", d.HiddenSize);
        var layers = Opt("--layers", "Decoder layers", d.Layers);
        var heads = Opt("--heads", "Attention heads", d.Heads);
        var kvHeads = Opt("--kv-heads", "Key/value heads", d.KeyValueHeads);
        var experts = Opt("--experts", "Experts per layer", d.Experts);
        var topK = Opt("--top-k", "Experts per token", d.TopK);
        var expertSize = Opt("--expert-size", "Width of one expert MLP", d.ExpertSize);
        var dense = Opt("--dense", "Dense model with the same active parameters (1 expert of width top-k · expert-size, top-1)", false);
        var vocab = Opt("--vocab-size", "BPE vocabulary size", d.VocabSize);
        var seqLen = Opt("--seq-len", "Tokens per sequence", d.SequenceLength);
        var batch = Opt("--batch-size", "Sequences per micro-batch", d.BatchSize);
        var accum = Opt("--grad-accum", "Micro-batches per optimizer step", d.GradientAccumulation);
        var steps = Opt("--steps", "Optimizer steps", d.Steps);
        var warmup = Opt("--warmup", "Linear warmup steps", d.WarmupSteps);
        var lr = Opt("--lr", "Peak learning rate", optimizer.LearningRate);
        var minLr = Opt("--min-lr-ratio", "Final learning rate as a fraction of the peak", optimizer.MinLrRatio);
        var wd = Opt("--weight-decay", "Decoupled weight decay (not on norms and embeddings)", optimizer.WeightDecay);
        var clip = Opt("--clip", "Global gradient-norm clip (0: off)", optimizer.ClipNorm);
        var aux = Opt("--aux-coef", "Load-balancing loss coefficient", d.AuxLossCoef);
        var auxMode = Opt("--aux-per-layer", "Balance each layer on its own (mean of per-layer losses) instead of transformers' loss over all layers' rows concatenated", d.AuxPerLayer);
        var defQuestions = Opt("--definition-questions", "Lettered definition → word questions per trainable lemma in the training mix", new InstructionOptions().DefinitionQuestionsPerLemma);
        var findQuestions = Opt("--find-word-questions", "Lettered find-the-word questions per trainable lemma in the training mix", new InstructionOptions().FindWordQuestionsPerLemma);
        var answerWeight = Opt("--answer-weight", "Loss weight of the first token after each \"### Answer:\" line (1: plain language-model loss)", d.Curriculum.AnswerWeight);
        var letteredWarmup = Opt("--lettered-warmup-steps", "Train the first N steps on lettered find-the-word questions only, then on the mix", d.Curriculum.LetteredWarmupSteps);
        var z = Opt("--z-coef", "Router z-loss coefficient (0: off)", d.ZLossCoef);
        var dtype = ModelOptions.Dtype("Dtype the model is held, trained and written in: f32 (default) or bf16 (bf16 forward/backward, fp32 master weights)");
        var seed = Opt("--seed", "Seed of the mix order, initialisation and data order", d.Seed);
        var evalEvery = Opt("--eval-every", "Validate every N steps (0: only at the end)", d.EvalEvery);
        var evalSeqs = Opt("--eval-sequences", "Validation sequences of the periodic evaluation", d.EvalSequences);
        var ckptEvery = Opt("--checkpoint-every", "Checkpoint every N steps", d.CheckpointEvery);
        var maxMinutes = Opt("--max-minutes", "Stop (and write the model) after this many minutes of training (0: no limit)", d.MaxMinutes);
        var cardNotes = new Option<string?>("--card-notes-file") { Description = "With --evaluate-only: also write MODEL_CARD.md, with this Markdown file as its notes" };
        var evaluateOnly = Opt("--evaluate-only", "Do not train: evaluate the model in --out and write evaluation.json there", false);

        var cmd = new Command("pretrain", "Train a Mixtral-architecture MoE from scratch on the training mix");
        foreach (var o in new Option[] { output, force, work, hidden, layers, heads, kvHeads, experts, topK, expertSize, dense, vocab, seqLen, batch,
                                         accum, steps, warmup, lr, minLr, wd, clip, aux, auxMode, answerWeight, defQuestions, findQuestions, letteredWarmup, z, dtype, seed, evalEvery, evalSeqs, ckptEvery, maxMinutes, evaluateOnly, cardNotes })
            cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var dt = pr.DtypeValue(dtype);
            if (dt is not (null or TorchSharp.torch.ScalarType.Float32 or TorchSharp.torch.ScalarType.BFloat16))
                throw new MoePruneException($"{dtype.Name}: pretrain trains in f32 or bf16");
            var options = new PretrainOptions
            {
                HiddenSize = pr.GetValue(hidden), Layers = pr.GetValue(layers), Heads = pr.GetValue(heads), KeyValueHeads = pr.GetValue(kvHeads),
                Experts = pr.GetValue(experts), TopK = pr.GetValue(topK), ExpertSize = pr.GetValue(expertSize), Dense = pr.GetValue(dense),
                VocabSize = pr.GetValue(vocab), SequenceLength = pr.GetValue(seqLen), BatchSize = pr.GetValue(batch),
                GradientAccumulation = pr.GetValue(accum), Steps = pr.GetValue(steps), WarmupSteps = pr.GetValue(warmup),
                Optimizer = optimizer with { LearningRate = pr.GetValue(lr), MinLrRatio = pr.GetValue(minLr), WeightDecay = pr.GetValue(wd), ClipNorm = pr.GetValue(clip) },
                AuxLossCoef = pr.GetValue(aux), AuxPerLayer = pr.GetValue(auxMode), ZLossCoef = pr.GetValue(z), Bf16 = dt == TorchSharp.torch.ScalarType.BFloat16,
                Seed = pr.GetValue(seed), EvalEvery = pr.GetValue(evalEvery), EvalSequences = pr.GetValue(evalSeqs),
                CheckpointEvery = pr.GetValue(ckptEvery), MaxMinutes = pr.GetValue(maxMinutes),
                Curriculum = new PretrainCurriculum
                {
                    Instructions = new InstructionOptions { DefinitionQuestionsPerLemma = pr.GetValue(defQuestions), FindWordQuestionsPerLemma = pr.GetValue(findQuestions) },
                    AnswerWeight = pr.GetValue(answerWeight), LetteredWarmupSteps = pr.GetValue(letteredWarmup),
                },
            };
            options.Validate();
            string outDir = pr.GetValue(output)!;
            if (!pr.GetValue(evaluateOnly)) OutputOptions.Claim(outDir, IO.OutputKind.Directory, pr.GetValue(force));
            var job = new PretrainJob(options, outDir, pr.GetValue(work) ?? outDir.TrimEnd('/') + ".work");
            job.Message += Log;
            bool json = pr.GetValue(GlobalOptions.Json);
            JsonObject result;
            if (pr.GetValue(evaluateOnly))
            {
                string? notes = pr.GetValue(cardNotes);
                string command = "./moeprune " + string.Join(' ', pr.Tokens.Select(t => t.Value).Where(a => a is not "--evaluate-only").TakeWhile(a => a != "--card-notes-file"));
                result = job.Evaluate(notes is null ? null : File.ReadAllText(notes), command);
            }
            else result = Train(job, options, json);
            if (json) CliRunner.PrintJson(result);
            else Console.WriteLine(result.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return cmd;
    }

    static void Log(string m) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {m}");

    /// <summary>Runs the job with a progress bar on a terminal, else a log line every 10 steps.</summary>
    static JsonObject Train(PretrainJob job, PretrainOptions options, bool json)
    {
        job.Evaluated += e => Log($"step {e.Step}: validation loss {e.ValidationLoss:F4} (ppl {Math.Exp(e.ValidationLoss):F2}, {e.Tokens:N0} tokens)");
        if (json || Console.IsErrorRedirected || Console.IsOutputRedirected)
        {
            job.StepCompleted += r =>
            {
                if (r.Step % 10 == 0 || r.Step == r.TotalSteps)
                    Log($"step {r.Step}/{r.TotalSteps} loss {r.Loss:F4} ce {r.CrossEntropy:F4} aux {r.AuxLoss:F3} z {r.ZLoss:F2} " +
                        $"lr {r.LearningRate:E2} |g| {r.GradNorm:F2} {r.TokensPerSecond:F0} tok/s");
            };
            return job.Run();
        }
        JsonObject summary = null!;
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("pretrain", maxValue: options.Steps);
                job.StepCompleted += r =>
                {
                    task.Value = r.Step;
                    task.Description = $"step {r.Step}/{r.TotalSteps} loss {r.CrossEntropy:F3} {r.TokensPerSecond:F0} tok/s";
                };
                summary = job.Run();
            });
        return summary;
    }
}
