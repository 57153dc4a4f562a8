using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Data;
using MoePrune.Training;
using Spectre.Console;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune pretrain --out DIR [options]</c>: trains a Mixtral-architecture MoE (or with <c>--dense</c> a
/// dense model with the same active parameters) from scratch on the training mix and writes a Hugging Face
/// checkpoint. Work files (tokenizer, token cache, checkpoint, log.jsonl) live in <c>--work</c>
/// (default <c>DIR.work</c>); rerunning resumes from its checkpoint.
/// </summary>
public static class PretrainCommand
{
    public static Command Create()
    {
        var d = new PretrainOptions();
        var output = new Option<string>("--out") { Description = "Output model directory", Required = true };
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
        var lr = Opt("--lr", "Peak learning rate", d.LearningRate);
        var minLr = Opt("--min-lr-ratio", "Final learning rate as a fraction of the peak", d.MinLrRatio);
        var wd = Opt("--weight-decay", "Decoupled weight decay (not on norms and embeddings)", d.WeightDecay);
        var clip = Opt("--clip", "Global gradient-norm clip (0: off)", d.ClipNorm);
        var aux = Opt("--aux-coef", "Load-balancing loss coefficient", d.AuxLossCoef);
        var auxMode = Opt("--aux-per-layer", "Balance each layer on its own (mean of per-layer losses) instead of transformers' loss over all layers' rows concatenated", d.AuxPerLayer);
        var defQuestions = Opt("--definition-questions", "Lettered definition → word questions per trainable lemma in the training mix", new InstructionOptions().DefinitionQuestionsPerLemma);
        var findQuestions = Opt("--find-word-questions", "Lettered find-the-word questions per trainable lemma in the training mix", new InstructionOptions().FindWordQuestionsPerLemma);
        var answerWeight = Opt("--answer-weight", "Loss weight of the first token after each \"### Answer:\" line (1: plain language-model loss)", d.AnswerWeight);
        var letteredWarmup = Opt("--lettered-warmup-steps", "Train the first N steps on lettered find-the-word questions only, then on the mix", d.LetteredWarmupSteps);
        var z = Opt("--z-coef", "Router z-loss coefficient (0: off)", d.ZLossCoef);
        var bf16 = Opt("--bf16", "bf16 forward/backward with fp32 master weights", false);
        var seed = Opt("--seed", "Seed of the mix order, initialisation and data order", d.Seed);
        var threads = Opt("--threads", "Torch threads", d.Threads);
        var evalEvery = Opt("--eval-every", "Validate every N steps (0: only at the end)", d.EvalEvery);
        var evalSeqs = Opt("--eval-sequences", "Validation sequences of the periodic evaluation", d.EvalSequences);
        var ckptEvery = Opt("--checkpoint-every", "Checkpoint every N steps", d.CheckpointEvery);
        var maxMinutes = Opt("--max-minutes", "Stop (and write the model) after this many minutes of training (0: no limit)", d.MaxMinutes);
        var cardNotes = new Option<string?>("--card-notes") { Description = "With --evaluate-only: also write MODEL_CARD.md, with this Markdown file as its notes" };
        var evaluateOnly = Opt("--evaluate-only", "Do not train: evaluate the model in --out and write evaluation.json there", false);

        var cmd = new Command("pretrain", "Train a Mixtral-architecture MoE from scratch on the training mix");
        foreach (var o in new Option[] { output, work, hidden, layers, heads, kvHeads, experts, topK, expertSize, dense, vocab, seqLen, batch,
                                         accum, steps, warmup, lr, minLr, wd, clip, aux, auxMode, answerWeight, defQuestions, findQuestions, letteredWarmup, z, bf16, seed, threads, evalEvery, evalSeqs, ckptEvery, maxMinutes, evaluateOnly, cardNotes })
            cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var options = new PretrainOptions
            {
                HiddenSize = pr.GetValue(hidden), Layers = pr.GetValue(layers), Heads = pr.GetValue(heads), KeyValueHeads = pr.GetValue(kvHeads),
                Experts = pr.GetValue(experts), TopK = pr.GetValue(topK), ExpertSize = pr.GetValue(expertSize), Dense = pr.GetValue(dense),
                VocabSize = pr.GetValue(vocab), SequenceLength = pr.GetValue(seqLen), BatchSize = pr.GetValue(batch),
                GradientAccumulation = pr.GetValue(accum), Steps = pr.GetValue(steps), WarmupSteps = pr.GetValue(warmup),
                LearningRate = pr.GetValue(lr), MinLrRatio = pr.GetValue(minLr), WeightDecay = pr.GetValue(wd), ClipNorm = pr.GetValue(clip),
                AuxLossCoef = pr.GetValue(aux), AuxPerLayer = pr.GetValue(auxMode), AnswerWeight = pr.GetValue(answerWeight),
                LetteredWarmupSteps = pr.GetValue(letteredWarmup),
                Instructions = new InstructionOptions { DefinitionQuestionsPerLemma = pr.GetValue(defQuestions), FindWordQuestionsPerLemma = pr.GetValue(findQuestions) },
                ZLossCoef = pr.GetValue(z), Bf16 = pr.GetValue(bf16), Seed = pr.GetValue(seed),
                Threads = pr.GetValue(threads), EvalEvery = pr.GetValue(evalEvery), EvalSequences = pr.GetValue(evalSeqs),
                CheckpointEvery = pr.GetValue(ckptEvery), MaxMinutes = pr.GetValue(maxMinutes),
            };
            options.Validate();
            string outDir = pr.GetValue(output)!;
            string workDir = pr.GetValue(work) ?? outDir.TrimEnd('/') + ".work";
            bool json = pr.GetValue(GlobalOptions.Json);
            return pr.GetValue(evaluateOnly) ? Evaluate(options, outDir, workDir, json, pr.GetValue(cardNotes), pr.Tokens.Select(t => t.Value)) : Run(options, outDir, workDir, json);
        });
        return cmd;
    }

    static int Run(PretrainOptions options, string outDir, string workDir, bool json)
    {
        void Log(string m) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {m}");
        var corpus = PretrainCorpus.Prepare(workDir, options.VocabSize, options.Seed, Log, options.Instructions);
        options = options with { AnswerMarkerIds = corpus.Tokenizer.Encode(InstructionTemplates.AnswerMarker + "\n", addSpecialTokens: false).Select(i => (long)i).ToList() };
        if (options.AnswerWeight != 1) Log($"answer marker tokens [{string.Join(", ", options.AnswerMarkerIds)}]: the next token weighs {options.AnswerWeight}");
        var data = new PackedDataset(corpus.TrainTokens, options.SequenceLength, options.Seed);
        var warmupData = options.LetteredWarmupSteps == 0 ? null
            : new PackedDataset(corpus.LetteredWarmup(options.LetteredWarmupSteps * options.TokensPerStep + options.SequenceLength, options.Seed), options.SequenceLength, options.Seed);
        if (warmupData != null) Log($"lettered warm-up: {options.LetteredWarmupSteps} steps on {warmupData.SequenceCount:N0} sequences of find-the-word questions");
        var validation = Evaluation.GenrePerplexity.Sequences(corpus.Tokenizer, CorpusSplit.Validation, options.SequenceLength);
        var allValidation = validation.SelectMany(g => g.Sequences).ToList();
        Log($"train stream {corpus.TrainTokens.Length:N0} tokens = {data.SequenceCount:N0} sequences of {options.SequenceLength}; " +
            $"{options.Steps} steps × {options.TokensPerStep:N0} tokens = {options.Steps * options.TokensPerStep / (double)data.TokenCount:F2} epochs");
        var trainer = new Pretrainer(options, workDir);
        trainer.Message += Log;
        trainer.Evaluated += e => Log($"step {e.Step}: validation loss {e.ValidationLoss:F4} (ppl {Math.Exp(e.ValidationLoss):F2}, {e.Tokens:N0} tokens)");
        bool interactive = !json && !Console.IsErrorRedirected && !Console.IsOutputRedirected;
        Models.MoeForCausalLM model;
        if (interactive)
        {
            model = null!;
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("pretrain", maxValue: options.Steps);
                    trainer.StepCompleted += r =>
                    {
                        task.Value = r.Step;
                        task.Description = $"step {r.Step}/{r.TotalSteps} loss {r.CrossEntropy:F3} {r.TokensPerSecond:F0} tok/s";
                    };
                    model = trainer.Train(data, Pretrainer.Subset(allValidation, options.EvalSequences), corpus.Tokenizer.BosId, corpus.Tokenizer.EosId, warmup: warmupData);
                });
        }
        else
        {
            trainer.StepCompleted += r =>
            {
                if (r.Step % 10 == 0 || r.Step == r.TotalSteps)
                    Log($"step {r.Step}/{r.TotalSteps} loss {r.Loss:F4} ce {r.CrossEntropy:F4} aux {r.AuxLoss:F3} z {r.ZLoss:F2} " +
                        $"lr {r.LearningRate:E2} |g| {r.GradNorm:F2} {r.TokensPerSecond:F0} tok/s");
            };
            model = trainer.Train(data, Pretrainer.Subset(allValidation, options.EvalSequences), corpus.Tokenizer.BosId, corpus.Tokenizer.EosId, warmup: warmupData);
        }
        using (model)
        {
            var state = trainer.StoppedAt!;
            var finalSet = Pretrainer.Subset(allValidation, 4 * options.EvalSequences);
            Log($"final validation over {finalSet.Count} of {allValidation.Count} validation sequences (every n-th)");
            var final = trainer.Evaluate(model, finalSet, state.Step);
            Pretrainer.SaveHf(model, outDir, corpus.TokenizerDir, corpus.Tokenizer.BosId, corpus.Tokenizer.EosId);
            var (total, active) = model.CountParameters();
            var summary = new JsonObject
            {
                ["out"] = Path.GetFullPath(outDir),
                ["steps"] = state.Step,
                ["tokens_seen"] = state.TokensSeen,
                ["train_seconds"] = Math.Round(state.ElapsedSeconds, 1),
                ["tokens_per_second"] = Math.Round(state.TokensSeen / Math.Max(1e-9, state.ElapsedSeconds), 1),
                ["threads"] = options.Threads,
                ["final_train_loss"] = trainer.Losses.Count > 0 ? trainer.Losses.TakeLast(20).Average() : null,
                ["validation_loss"] = final.ValidationLoss,
                ["validation_perplexity"] = Math.Exp(final.ValidationLoss),
                ["total_parameters"] = total,
                ["active_parameters"] = active,
                ["stopped_early"] = state.Step < options.Steps,
            };
            IO.JsonFile.WriteAtomic(Path.Combine(workDir, "summary.json"), summary);
            if (json) CliRunner.PrintJson(summary);
            else Console.WriteLine(summary.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        }
        return 0;
    }

    /// <summary>Card statistics of the model in <paramref name="outDir"/>; the unigram baseline uses the work folder's token cache.</summary>
    static int Evaluate(PretrainOptions options, string outDir, string workDir, bool json, string? notes, IEnumerable<string> args)
    {
        void Log(string m) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {m}");
        SetThreads(options.Threads);
        var corpus = PretrainCorpus.Prepare(workDir, options.VocabSize, options.Seed, Log, options.Instructions);
        using var model = Models.ModelLoader.Load(outDir);
        var tokenizer = Tokenization.HfTokenizer.Load(outDir);
        var result = PretrainEvaluation.Run(model, tokenizer, corpus.TrainTokens, options.Seed, Log, options.Instructions);
        var summaryPath = Path.Combine(workDir, "summary.json");
        if (File.Exists(summaryPath))
        {
            double rate = IO.JsonFile.ReadObject(summaryPath)["tokens_per_second"]!.GetValue<double>();
            double flops = TrainingFlops.PerToken(model.Config, options.SequenceLength);
            double matmul = Benchmarks.MatmulRate.Measure(options.SequenceLength * options.BatchSize, model.Config.HiddenSize,
                                                          2L * model.Config.ExpertIntermediateSize, TorchSharp.torch.ScalarType.Float32);
            result["throughput"] = new JsonObject
            {
                ["tokens_per_second"] = rate, ["training_flops_per_token"] = flops, ["achieved_gflops"] = rate * flops / 1e9,
                ["matmul_gflops"] = matmul, ["matmul_shape"] = $"({options.SequenceLength * options.BatchSize} x {model.Config.HiddenSize}) . ({model.Config.HiddenSize} x {2 * model.Config.ExpertIntermediateSize}) fp32",
                ["threads"] = options.Threads,
            };
        }
        IO.JsonFile.WriteAtomic(Path.Combine(outDir, "evaluation.json"), result);
        if (notes is not null)
        {
            var summary = IO.JsonFile.ReadObject(Path.Combine(workDir, "summary.json"));
            var config = IO.JsonFile.ReadObject(Path.Combine(outDir, "config.json"));
            string command = "./moeprune " + string.Join(' ', args.Where(a => a is not "--evaluate-only")
                .TakeWhile(a => a != "--card-notes"));
            string card = ModelCardWriter.Render(command, summary, result, config, File.ReadAllText(notes));
            File.WriteAllText(Path.Combine(outDir, "MODEL_CARD.md"), card);
            Log($"wrote {Path.Combine(outDir, "MODEL_CARD.md")}");
        }
        if (json) CliRunner.PrintJson(result);
        else Console.WriteLine(result.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    static void SetThreads(int n) => TorchSharp.torch.set_num_threads(n);
}
