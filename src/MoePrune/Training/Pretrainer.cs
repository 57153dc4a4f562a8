using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Evaluation;
using MoePrune.IO;
using MoePrune.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>
/// Pretrains a Mixtral-architecture model from scratch on a <see cref="PackedDataset"/>: AdamW, warmup +
/// cosine, global-norm clipping, cross-entropy + aux_coef · load-balancing loss + z_coef · router z-loss,
/// gradient accumulation, periodic validation and resumable checkpoints in the work folder. The final
/// model is written as a Hugging Face checkpoint (config, safetensors, tokenizer files, generation config).
/// </summary>
public sealed class Pretrainer(PretrainOptions options, string workDir)
{
    public PretrainOptions Options { get; } = options;
    public string WorkDir { get; } = workDir;
    public string CheckpointPath => Path.Combine(WorkDir, TrainingCheckpoint.FileName);
    /// <summary>Cross-entropy of every step run by this instance, in order (tests compare resumed runs).</summary>
    public List<double> Losses { get; } = [];

    public event Action<StepReport>? StepCompleted;
    public event Action<EvalReport>? Evaluated;
    public event Action<string>? Message;

    /// <summary>
    /// Trains from the work folder's checkpoint when present (else from scratch) up to <c>Options.Steps</c>
    /// (or <paramref name="stopAtStep"/>), checkpointing every <c>CheckpointEvery</c> steps and at the end.
    /// Returns the model; the caller disposes it. The first <c>LetteredWarmupSteps</c> steps read <paramref name="warmup"/>
    /// (by step, so a resumed run reads the same batches); <paramref name="data"/> starts at its position 0 after them.
    /// </summary>
    public MoeForCausalLM Train(PackedDataset data, IReadOnlyList<int[]> validation, int? bosId, int? eosId, int? stopAtStep = null,
                                PackedDataset? warmup = null)
    {
        Options.Validate();
        if (Options.LetteredWarmupSteps > 0 && warmup is null)
            throw new MoePruneException("--lettered-warmup-steps: no warm-up data was given to the trainer");
        torch.set_num_threads(Options.Threads);
        torch.manual_seed(Options.Seed);
        Directory.CreateDirectory(WorkDir);
        var dtype = Options.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        var config = PretrainModelFactory.Config(Options, bosId, eosId);
        var model = PretrainModelFactory.Create(config, Options.InitStd, Options.Seed, dtype);
        var trainable = PretrainModelFactory.Trainable(model);
        using var optimizer = new AdamW(trainable, Options.Beta1, Options.Beta2, Options.Epsilon, Options.WeightDecay);
        var state = new TrainingProgressState(0, 0, 0, 0);
        if (File.Exists(CheckpointPath))
        {
            state = TrainingCheckpoint.Load(CheckpointPath, model, optimizer);
            Message?.Invoke($"resumed from {CheckpointPath} at step {state.Step}");
        }
        var schedule = new CosineSchedule(Options.LearningRate, Options.WarmupSteps, Options.Steps, Options.MinLrRatio);
        var evalSubset = Subset(validation, Options.EvalSequences);
        int last = Math.Min(Options.Steps, stopAtStep ?? Options.Steps);
        var clock = Stopwatch.StartNew();
        double startElapsed = state.ElapsedSeconds;
        long startTokens = state.TokensSeen;
        model.train();
        while (state.Step < last)
        {
            var report = Step(model, optimizer, data, warmup, schedule, ref state, clock, startElapsed, startTokens);
            Losses.Add(report.CrossEntropy);
            AppendLog(new JsonObject
            {
                ["step"] = report.Step, ["loss"] = report.Loss, ["ce"] = report.CrossEntropy, ["aux"] = report.AuxLoss,
                ["z"] = report.ZLoss, ["lr"] = report.LearningRate, ["grad_norm"] = report.GradNorm,
                ["tokens"] = report.TokensSeen, ["tokens_per_s"] = report.TokensPerSecond, ["elapsed_s"] = report.ElapsedSeconds,
            });
            StepCompleted?.Invoke(report);
            bool timeUp = Options.MaxMinutes > 0 && state.ElapsedSeconds > Options.MaxMinutes * 60;
            if (Options.EvalEvery > 0 && (state.Step % Options.EvalEvery == 0 || state.Step == last) && evalSubset.Count > 0)
                Evaluate(model, evalSubset, state.Step);
            if (state.Step == last || timeUp || (Options.CheckpointEvery > 0 && state.Step % Options.CheckpointEvery == 0))
                TrainingCheckpoint.Save(CheckpointPath, model, optimizer, state);
            if (timeUp) { Message?.Invoke($"--max-minutes {Options.MaxMinutes} reached at step {state.Step}"); break; }
        }
        model.eval();
        StoppedAt = state;
        return model;
    }

    /// <summary>Where the last <see cref="Train"/> call stopped.</summary>
    public TrainingProgressState? StoppedAt { get; private set; }

    private StepReport Step(MoeForCausalLM model, AdamW optimizer, PackedDataset data, PackedDataset? warmup, CosineSchedule schedule,
                            ref TrainingProgressState state, Stopwatch clock, double startElapsed, long startTokens)
    {
        double lr = schedule.At(state.Step);
        foreach (var p in optimizer.Parameters) p.Parameter.grad = null;
        double ce = 0, aux = 0, z = 0, total = 0;
        long position = state.DataPosition;
        int accumulation = Options.GradientAccumulation;
        bool warming = state.Step < Options.LetteredWarmupSteps;
        for (int micro = 0; micro < accumulation; micro++)
        {
            using var scope = NewDisposeScope();
            var ids = warming
                ? warmup!.Batch(((long)state.Step * accumulation + micro) * Options.BatchSize, Options.BatchSize) // (B, T) int64
                : data.Batch(position, Options.BatchSize);                                  // (B, T) int64
            if (!warming) position += Options.BatchSize;
            var output = model.forward(new CausalLMInput(ids, null, OutputRouterLogits: true));
            var rowWeights = Options.AnswerWeight != 1 && Options.AnswerMarkerIds.Count > 0
                ? AnswerTokenWeights.Rows(ids, Options.AnswerMarkerIds, Options.AnswerWeight)  // (B, T) fp32
                : null;
            var (nll, weighted) = CausalLMLoss.ComputeWeighted(output.Logits, ids, rowWeights); // () fp32 sums
            var crossEntropy = nll.Sum / nll.Count;                                         // () fp32, logged
            var loss = weighted is null ? crossEntropy : weighted / nll.Count;              // () fp32, optimized
            bool sparse = !Options.Dense && output.RouterLogits is { Count: > 0 };
            if (sparse && Options.AuxLossCoef != 0)
            {
                var balance = Options.AuxPerLayer
                    ? LoadBalancingLoss.ComputePerLayer(output.RouterLogits!, Options.TopK)      // () fp32
                    : LoadBalancingLoss.Compute(output.RouterLogits!, Options.TopK);             // () fp32
                loss = loss + Options.AuxLossCoef * balance;
                aux += balance.item<float>() / accumulation;
            }
            if (sparse && Options.ZLossCoef != 0)
            {
                var zLoss = RouterZLoss.Compute(output.RouterLogits!);                      // () fp32
                loss = loss + Options.ZLossCoef * zLoss;
                z += zLoss.item<float>() / accumulation;
            }
            (loss / accumulation).backward();
            ce += crossEntropy.item<float>() / accumulation;
            total += loss.item<float>() / accumulation;
        }
        double norm = GradientClipping.ClipGlobalNorm(optimizer.Parameters.Select(p => (Tensor)p.Parameter), Options.ClipNorm);
        optimizer.Step(lr);
        long tokens = state.TokensSeen + Options.TokensPerStep;
        double elapsed = startElapsed + clock.Elapsed.TotalSeconds;
        state = new TrainingProgressState(state.Step + 1, position, tokens, elapsed);
        double rate = (tokens - startTokens) / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
        return new StepReport(state.Step, Options.Steps, total, ce, aux, z, lr, norm, tokens, rate, elapsed);
    }

    /// <summary>Mean validation NLL over <paramref name="sequences"/>.</summary>
    public EvalReport Evaluate(MoeForCausalLM model, IReadOnlyList<int[]> sequences, int step)
    {
        model.eval();
        var result = Perplexity.Evaluate(model, sequences, Options.BatchSize);
        model.train();
        var report = new EvalReport(step, result.MeanNll, result.Tokens);
        AppendLog(new JsonObject { ["step"] = step, ["val_loss"] = result.MeanNll, ["val_tokens"] = result.Tokens });
        Evaluated?.Invoke(report);
        return report;
    }

    /// <summary>Every n-th sequence so that about <paramref name="count"/> are kept (all genres represented).</summary>
    public static List<int[]> Subset(IReadOnlyList<int[]> sequences, int count)
    {
        if (count <= 0 || sequences.Count <= count) return sequences.ToList();
        double stride = (double)sequences.Count / count;
        return Enumerable.Range(0, count).Select(i => sequences[(int)(i * stride)]).ToList();
    }

    /// <summary>Writes <paramref name="model"/> as a Hugging Face checkpoint into <paramref name="outDir"/> (replacing its model files).</summary>
    public static void SaveHf(MoeForCausalLM model, string outDir, string tokenizerDir, int? bosId, int? eosId)
    {
        string staging = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outDir))!, $".{Path.GetFileName(Path.GetFullPath(outDir))}.staging-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            JsonFile.WriteAtomic(Path.Combine(staging, "generation_config.json"), new JsonObject
            {
                ["bos_token_id"] = bosId is { } b ? b : null, ["eos_token_id"] = eosId is { } e ? e : null,
                ["do_sample"] = false, ["transformers_version"] = "4.46.0",
            });
            foreach (var name in new[] { "tokenizer.json", "tokenizer_config.json" })
                File.Copy(Path.Combine(tokenizerDir, name), Path.Combine(staging, name));
            string weights = Path.Combine(staging, "weights");
            ModelLoader.Save(model, weights, copyAuxFrom: staging);
            Directory.CreateDirectory(outDir);
            foreach (var file in Directory.GetFiles(weights))
                File.Move(file, Path.Combine(outDir, Path.GetFileName(file)), overwrite: true);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    private void AppendLog(JsonObject line) => File.AppendAllText(Path.Combine(WorkDir, "log.jsonl"), line.ToJsonString() + "\n");
}
