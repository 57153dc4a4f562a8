using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Evaluation;
using MoePrune.Models;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Training;

/// <summary>
/// Trains a model it is given (it builds none) on an <see cref="ITrainingData"/> source: the roles of
/// <see cref="TrainerOptions.Train"/> only (every other parameter has no gradient and is not touched), the
/// objective of <see cref="TrainerOptions.Loss"/> (with an optional teacher for distillation), gradient
/// accumulation, global-norm clipping, warmup + cosine, a fresh AdamW per call. With a work folder it appends
/// every step and validation to <c>log.jsonl</c> and checkpoints there; a call that finds a checkpoint resumes
/// from it, bit for bit. It sets no global torch state (threads are the caller's).
/// </summary>
public sealed class Trainer(TrainerOptions options, string? workDir = null)
{
    public TrainerOptions Options { get; } = options;
    public string? WorkDir { get; } = workDir;
    public string? CheckpointPath => WorkDir is null ? null : Path.Combine(WorkDir, TrainingCheckpoint.FileName);

    public event Action<StepReport>? StepCompleted;
    public event Action<EvalReport>? Evaluated;
    public event Action<string>? Message;

    /// <summary>
    /// Trains <paramref name="model"/> in place from the work folder's checkpoint when there is one, up to the
    /// budget's last step (or <paramref name="stopAtStep"/>), and leaves it in eval mode with its
    /// <c>requires_grad</c> flags as they were. <paramref name="validation"/> is evaluated every
    /// <see cref="TrainerOptions.EvalEvery"/> steps.
    /// </summary>
    public TrainingResult Train(MoeForCausalLM model, ITrainingData data, MoeForCausalLM? teacher = null,
                                IReadOnlyList<int[]>? validation = null, int? stopAtStep = null)
    {
        int seqLen = data.SequenceLength;
        Options.Validate(seqLen);
        Options.Loss.Validate(teacher is not null);
        int total = Options.Steps(seqLen);
        var trainable = Options.Train.Select(model);
        var flags = ParameterSelection.Apply(model, trainable);
        var losses = new List<double>();
        try
        {
            using var optimizer = new AdamW(trainable, Options.Optimizer.Beta1, Options.Optimizer.Beta2, Options.Optimizer.Epsilon, Options.Optimizer.WeightDecay);
            var state = new TrainingProgressState(0, 0, 0, 0);
            if (CheckpointPath is { } path)
            {
                Directory.CreateDirectory(WorkDir!);
                if (File.Exists(path))
                {
                    state = TrainingCheckpoint.Load(path, model, optimizer, Options.Train, total);
                    Message?.Invoke($"resumed from {path} at step {state.Step}");
                }
            }
            var schedule = new CosineSchedule(Options.Optimizer.LearningRate, Options.WarmupSteps(seqLen), total, Options.Optimizer.MinLrRatio);
            int last = Math.Min(total, stopAtStep ?? total);
            var clock = Stopwatch.StartNew();
            var run = new RunClock(clock, state.ElapsedSeconds, state.TokensSeen);
            teacher?.eval();
            model.train();
            while (state.Step < last)
            {
                var report = Step(model, teacher, optimizer, data, schedule, total, ref state, run);
                losses.Add(report.CrossEntropy);
                Log(report);
                StepCompleted?.Invoke(report);
                bool timeUp = Options.MaxMinutes > 0 && state.ElapsedSeconds > Options.MaxMinutes * 60;
                if (validation is { Count: > 0 } && Options.EvalEvery > 0 && (state.Step % Options.EvalEvery == 0 || state.Step == last))
                    Evaluate(model, validation, state.Step);
                if (CheckpointPath is { } checkpoint &&
                    (state.Step == last || timeUp || (Options.CheckpointEvery > 0 && state.Step % Options.CheckpointEvery == 0)))
                    TrainingCheckpoint.Save(checkpoint, model, optimizer, state, Options.Train, total);
                if (timeUp) { Message?.Invoke($"time limit of {Options.MaxMinutes} minutes reached at step {state.Step}"); break; }
            }
            foreach (var p in trainable) p.Parameter.grad = null;
            return new TrainingResult(state, total, state.Step < total, Options.Train, losses);
        }
        finally
        {
            model.eval();
            ParameterSelection.Restore(flags);
        }
    }

    /// <summary>The run's wall clock: seconds and tokens of earlier calls plus this call's stopwatch.</summary>
    private sealed record RunClock(Stopwatch Clock, double StartElapsed, long StartTokens);

    private StepReport Step(MoeForCausalLM model, MoeForCausalLM? teacher, AdamW optimizer, ITrainingData data, CosineSchedule schedule,
                            int total, ref TrainingProgressState state, RunClock run)
    {
        double lr = schedule.At(state.Step);
        foreach (var p in optimizer.Parameters) p.Parameter.grad = null;
        double ce = 0, distill = 0, aux = 0, z = 0, sum = 0;
        long position = state.DataPosition;
        int accumulation = Options.GradientAccumulation;
        for (int micro = 0; micro < accumulation; micro++)
        {
            using var scope = NewDisposeScope();
            var cursor = new DataCursor(state.Step, (long)state.Step * accumulation + micro, position);
            var batch = data.Read(cursor, Options.BatchSize);                           // (B, T) ids, optional mask and weights
            position = batch.NextPosition;
            var terms = TrainingLoss.Compute(model, batch, Options.Loss, teacher);      // () fp32 each
            (terms.Loss / Scalars.Of(accumulation)).backward();
            ce += terms.CrossEntropy.item<float>() / accumulation;
            sum += terms.Loss.item<float>() / accumulation;
            if (terms.Distillation is not null) distill += terms.Distillation.item<float>() / accumulation;
            if (terms.AuxLoss is not null) aux += terms.AuxLoss.item<float>() / accumulation;
            if (terms.ZLoss is not null) z += terms.ZLoss.item<float>() / accumulation;
        }
        double norm = GradientClipping.ClipGlobalNorm(optimizer.Parameters.Select(p => (Tensor)p.Parameter), Options.Optimizer.ClipNorm);
        optimizer.Step(lr);
        long tokens = state.TokensSeen + Options.TokensPerStep(data.SequenceLength);
        double elapsed = run.StartElapsed + run.Clock.Elapsed.TotalSeconds;
        state = new TrainingProgressState(state.Step + 1, position, tokens, elapsed);
        double rate = (tokens - run.StartTokens) / Math.Max(1e-9, run.Clock.Elapsed.TotalSeconds);
        return new StepReport(state.Step, total, sum, ce, aux, z, lr, norm, tokens, rate, elapsed, distill);
    }

    /// <summary>Mean validation NLL over <paramref name="sequences"/> (batches of the micro-batch size).</summary>
    public EvalReport Evaluate(MoeForCausalLM model, IReadOnlyList<int[]> sequences, int step)
    {
        bool training = model.training;
        model.eval();
        var result = Perplexity.Evaluate(model, sequences, Options.BatchSize);
        if (training) model.train();
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

    private void Log(StepReport r)
    {
        var line = new JsonObject
        {
            ["step"] = r.Step, ["loss"] = r.Loss, ["ce"] = r.CrossEntropy, ["aux"] = r.AuxLoss,
            ["z"] = r.ZLoss, ["lr"] = r.LearningRate, ["grad_norm"] = r.GradNorm,
            ["tokens"] = r.TokensSeen, ["tokens_per_s"] = r.TokensPerSecond, ["elapsed_s"] = r.ElapsedSeconds,
        };
        if (Options.Loss.Distillation != 0) line["distill"] = r.Distillation;
        AppendLog(line);
    }

    private void AppendLog(JsonObject line)
    {
        if (WorkDir is not null) File.AppendAllText(Path.Combine(WorkDir, "log.jsonl"), line.ToJsonString() + "\n");
    }
}
