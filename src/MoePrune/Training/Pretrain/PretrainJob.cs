using System.Text;
using System.Text.Json.Nodes;
using MoePrune.Data;
using MoePrune.Evaluation;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Tokenization;
using TorchSharp;

namespace MoePrune.Training.Pretrain;

/// <summary>
/// The <c>pretrain</c> workflow. <see cref="Run"/>: prepare the tokenizer and the mix in the work folder, build
/// the curriculum's data source, initialise a model, train it with <see cref="Trainer"/> (resuming from the work
/// folder's checkpoint), evaluate on the validation split, write the Hugging Face checkpoint and
/// <c>summary.json</c>. <see cref="Evaluate"/>: the model card's statistics, throughput and <c>MODEL_CARD.md</c>.
/// Torch threads are the caller's setting; the summary records them.
/// </summary>
public sealed class PretrainJob(PretrainOptions options, string outDir, string workDir)
{
    public const string SummaryFile = "summary.json";
    /// <summary>The transformers version written into generation_config.json (the layout it follows).</summary>
    const string GenerationConfigVersion = "4.46.0";

    public PretrainOptions Options { get; } = options;
    public string OutDir { get; } = outDir;
    public string WorkDir { get; } = workDir;

    public event Action<string>? Message;
    public event Action<StepReport>? StepCompleted;
    public event Action<EvalReport>? Evaluated;

    /// <summary>Trains (or finishes training) and writes the model; returns the summary written to the work folder.</summary>
    public JsonObject Run()
    {
        Options.Validate();
        var corpus = PretrainCorpus.Prepare(WorkDir, Options.VocabSize, Options.Seed, Log, Options.Curriculum.Instructions);
        var data = PretrainData.Build(Options, corpus, Log);
        var validation = GenrePerplexity.Sequences(corpus.Tokenizer, CorpusSplit.Validation, Options.SequenceLength)
            .SelectMany(g => g.Sequences).ToList();
        long streamTokens = (long)corpus.TrainTokens.Length / Options.SequenceLength * Options.SequenceLength;
        Log($"train stream {corpus.TrainTokens.Length:N0} tokens = {corpus.TrainTokens.Length / Options.SequenceLength:N0} sequences of {Options.SequenceLength}; " +
            $"{Options.Steps} steps × {Options.TokensPerStep:N0} tokens = {Options.Steps * Options.TokensPerStep / (double)streamTokens:F2} epochs");

        var config = PretrainModelFactory.Config(Options, corpus.Tokenizer.BosId, corpus.Tokenizer.EosId);
        using var model = PretrainModelFactory.Create(config, Options.InitStd, Options.Seed,
                                                      Options.Bf16 ? torch.ScalarType.BFloat16 : torch.ScalarType.Float32);
        var trainer = new Trainer(Options.ToTrainerOptions(), WorkDir);
        trainer.Message += Log;
        trainer.StepCompleted += r => StepCompleted?.Invoke(r);
        trainer.Evaluated += e => Evaluated?.Invoke(e);
        var result = trainer.Train(model, data, validation: Trainer.Subset(validation, Options.EvalSequences));

        var finalSet = Trainer.Subset(validation, 4 * Options.EvalSequences);
        Log($"final validation over {finalSet.Count} of {validation.Count} validation sequences (every n-th)");
        var final = trainer.Evaluate(model, finalSet, result.State.Step);
        Save(model, corpus);
        var (total, active) = model.CountParameters();
        var state = result.State;
        var summary = new JsonObject
        {
            ["out"] = Path.GetFullPath(OutDir),
            ["steps"] = state.Step,
            ["tokens_seen"] = state.TokensSeen,
            ["train_seconds"] = Math.Round(state.ElapsedSeconds, 1),
            ["tokens_per_second"] = Math.Round(state.TokensSeen / Math.Max(1e-9, state.ElapsedSeconds), 1),
            ["threads"] = torch.get_num_threads(),
            ["final_train_loss"] = result.FinalLoss(),
            ["validation_loss"] = final.ValidationLoss,
            ["validation_perplexity"] = Math.Exp(final.ValidationLoss),
            ["total_parameters"] = total,
            ["active_parameters"] = active,
            ["stopped_early"] = state.Step < Options.Steps,
        };
        JsonFile.WriteAtomic(Path.Combine(WorkDir, SummaryFile), summary);
        return summary;
    }

    /// <summary>
    /// The card statistics of the model in the output folder (<see cref="PretrainEvaluation"/>; the unigram baseline
    /// uses the work folder's token cache) plus, when the run's summary exists, the training throughput against
    /// the matmul rate; written to <c>evaluation.json</c>. With <paramref name="notes"/> (Markdown) also
    /// <c>MODEL_CARD.md</c>, showing <paramref name="command"/> as the command that made the model.
    /// </summary>
    public JsonObject Evaluate(string? notes = null, string command = "")
    {
        var corpus = PretrainCorpus.Prepare(WorkDir, Options.VocabSize, Options.Seed, Log, Options.Curriculum.Instructions);
        using var model = ModelLoader.Load(OutDir);
        var tokenizer = HfTokenizer.Load(OutDir);
        var result = PretrainEvaluation.Run(model, tokenizer, corpus.TrainTokens, Options.Seed, Log, Options.Curriculum.Instructions);
        var summaryPath = Path.Combine(WorkDir, SummaryFile);
        if (File.Exists(summaryPath))
        {
            double rate = JsonFile.ReadObject(summaryPath)["tokens_per_second"]!.GetValue<double>();
            double flops = TrainingFlops.PerToken(model.Config, Options.SequenceLength);
            int rows = Options.SequenceLength * Options.BatchSize, width = 2 * model.Config.ExpertIntermediateSize;
            double matmul = Benchmarks.MatmulRate.Measure(rows, model.Config.HiddenSize, width, torch.ScalarType.Float32);
            result["throughput"] = new JsonObject
            {
                ["tokens_per_second"] = rate, ["training_flops_per_token"] = flops, ["achieved_gflops"] = rate * flops / 1e9,
                ["matmul_gflops"] = matmul, ["matmul_shape"] = $"({rows} x {model.Config.HiddenSize}) . ({model.Config.HiddenSize} x {width}) fp32",
                ["threads"] = torch.get_num_threads(),
            };
        }
        JsonFile.WriteAtomic(Path.Combine(OutDir, "evaluation.json"), result);
        if (notes is not null)
        {
            var summary = JsonFile.ReadObject(summaryPath);
            var config = JsonFile.ReadObject(Path.Combine(OutDir, CheckpointDirectory.ConfigFile));
            string card = ModelCardWriter.Render(command, summary, result, config, notes);
            AtomicFile.Write(Path.Combine(OutDir, "MODEL_CARD.md"), s => s.Write(new UTF8Encoding(false).GetBytes(card)));
            Log($"wrote {Path.Combine(OutDir, "MODEL_CARD.md")}");
        }
        return result;
    }

    /// <summary>
    /// Writes the model as a Hugging Face checkpoint (<see cref="ModelLoader.Save"/>, with the tokenizer and a
    /// generation config). An output folder that already holds files (an earlier run's model, card and evaluation)
    /// keeps them: the checkpoint is written beside it and its files replace the folder's.
    /// </summary>
    void Save(MoeForCausalLM model, PretrainCorpus corpus)
    {
        string aux = Path.Combine(WorkDir, "hf-files");
        Directory.CreateDirectory(aux);
        JsonFile.WriteAtomic(Path.Combine(aux, "generation_config.json"), new JsonObject
        {
            ["bos_token_id"] = corpus.Tokenizer.BosId is { } b ? b : null, ["eos_token_id"] = corpus.Tokenizer.EosId is { } e ? e : null,
            ["do_sample"] = false, ["transformers_version"] = GenerationConfigVersion,
        });
        foreach (var name in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(corpus.TokenizerDir, name), Path.Combine(aux, name), overwrite: true);
        if (!Directory.Exists(OutDir) || !Directory.EnumerateFileSystemEntries(OutDir).Any())
        {
            ModelLoader.Save(model, OutDir, copyAuxFrom: aux);
            return;
        }
        string written = AtomicFile.TempSibling(OutDir);
        ModelLoader.Save(model, written, copyAuxFrom: aux);
        try
        {
            foreach (var file in Directory.GetFiles(written))
                File.Move(file, Path.Combine(OutDir, Path.GetFileName(file)), overwrite: true);
        }
        finally
        {
            Directory.Delete(written, recursive: true);
        }
    }

    void Log(string message) => Message?.Invoke(message);
}
