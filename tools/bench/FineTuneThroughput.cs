#:project ../../src/MoePrune/MoePrune.csproj
// One-off benchmark (not a test) for docs/BENCHMARKS.md "Fine-tuning throughput": on models/default, tokens/s of
// a forward (inference mode), a routers-only fine-tune step and an all-parameter fine-tune step (AdamW, batch 8 × 256,
// brown+wordnet data as `finetune` packs it), interleaved in rounds so that a changing load hits all three alike;
// the median step of each after a warm-up; and this machine's fp32 matmul rate for the experts' shape. Run:
//     MOEPRUNE_DATA=$PWD/data dotnet run tools/bench/FineTuneThroughput.cs -c Release [-- THREADS ROUNDS]
using System.Diagnostics;
using MoePrune.Benchmarks;
using MoePrune.Jobs.FineTuning;
using MoePrune.Models;
using MoePrune.Native;
using MoePrune.Training;
using static TorchSharp.torch;

TorchNative.EnsureLoaded();
set_num_threads(args.Length > 0 ? int.Parse(args[0]) : 2);
int rounds = args.Length > 1 ? int.Parse(args[1]) : 3;
const int Batch = 8, Length = 256, StepsPerRound = 6;
string dir = "models/default";
using var model = ModelLoader.Load(dir);
var spec = new FineTuneSpec { Tokens = (long)Batch * Length * StepsPerRound, SequenceLength = Length, BatchSize = Batch };
var (data, _) = FineTuneData.Build(spec, dir, model.Config.VocabSize, spec.Tokens, seed: 1);
var times = new Dictionary<string, List<double>> { ["forward"] = [], ["routers"] = [], ["all"] = [] };
Console.WriteLine($"torch threads {get_num_threads()}; load {File.ReadAllText("/proc/loadavg").Trim()}");
for (int round = 0; round < rounds; round++)
{
    using (var inference = inference_mode())
        for (int s = 0; s < StepsPerRound; s++)
        {
            using var scope = NewDisposeScope();
            var batch = data.Read(new DataCursor(s, s, (long)s * Batch), Batch);
            var clock = Stopwatch.StartNew();
            model.Logits(batch.InputIds);                                                // (B, T, V)
            if (s > 0) times["forward"].Add(clock.Elapsed.TotalSeconds);
        }
    foreach (string roles in new[] { "routers", "all" })
    {
        var trainer = new Trainer(spec.ToTrainer(spec.Tokens) with { Train = ParameterSelection.Parse(roles), Optimizer = new() { LearningRate = 1e-12 } });
        double last = 0;
        trainer.StepCompleted += r => { if (r.Step > 1) times[roles].Add(r.ElapsedSeconds - last); last = r.ElapsedSeconds; };
        trainer.Train(model, data);
    }
}
double matmul = MatmulRate.Measure((long)Batch * Length * model.Config.TopK / model.Config.NumExperts, model.Config.HiddenSize, model.Config.ExpertIntermediateSize, ScalarType.Float32);
double train = TrainingFlops.PerToken(model.Config, Length), forward = train / 3;
Console.WriteLine($"load {File.ReadAllText("/proc/loadavg").Trim()}; matmul rate {matmul:F1} GFLOP/s (fp32, {get_num_threads()} threads)");
foreach (var (name, flops) in new[] { ("forward", forward), ("routers", 2 * forward), ("all", train) })
{
    var t = times[name].Order().ToList();
    double median = t[t.Count / 2], rate = Batch * Length / median, gflops = rate * flops / 1e9;
    Console.WriteLine($"{name,-8} {rate,8:F0} tokens/s  {median * 1000,7:F0} ms/step  {flops / 1e6,5:F1} MFLOP/token  {gflops,6:F1} GFLOP/s  ratio {gflops / matmul:F3}  ({t.Count} steps)");
}
Console.WriteLine($"routers-only step / forward: {times["routers"].Order().ElementAt(times["routers"].Count / 2) / times["forward"].Order().ElementAt(times["forward"].Count / 2):F2}; " +
                  $"all / forward: {times["all"].Order().ElementAt(times["all"].Count / 2) / times["forward"].Order().ElementAt(times["forward"].Count / 2):F2}");
