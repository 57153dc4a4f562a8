using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Jobs;
using MoePrune.Jobs.FineTuning;
using MoePrune.Jobs.Strategies;
using MoePrune.Models;
using MoePrune.Pruning;
using static TorchSharp.torch;

namespace MoePrune.Tests.Jobs;

/// <summary>Tiny checkpoints with near-duplicate experts, token data and strategy requests for the strategy and fine-tune tests.</summary>
static class StrategySupport
{
    /// <summary>
    /// A tiny mixtral whose experts 1 and 3 of every layer are near-copies of experts 0 and 2 (pair (0, 1) closer than
    /// (2, 3)): one-shot max-EWS drops both members of the closer pair; re-estimating after each cut does not.
    /// </summary>
    public static string NearDuplicates(string dir, int seed = 5)
    {
        JobSupport.WriteModel(dir, "mixtral", seed);
        using var model = ModelLoader.Load(dir);
        var gen = new TorchSharp.torch.Generator((ulong)seed);
        using (no_grad())
            foreach (var view in model.MoeLayers)
                foreach (var (copy, of, noise) in new[] { (1, 0, 0.05), (3, 2, 0.3) })
                    foreach (var (target, source) in new[] { (view.GateProj(copy), view.GateProj(of)), (view.UpProj(copy), view.UpProj(of)), (view.DownProj(copy), view.DownProj(of)) })
                        target.copy_(source + randn(source.shape, generator: gen) * source.std() * noise);
        Directory.Delete(dir, recursive: true);
        ModelLoader.Save(model, dir);
        return dir;
    }

    /// <summary>A token file of a noisy chain over ids 3..63 (learnable), one document per line.</summary>
    public static string ChainTokens(string path, int docs = 60, int length = 40, int seed = 1)
    {
        var rng = new Random(seed);
        File.WriteAllLines(path, Enumerable.Range(0, docs).Select(_ =>
        {
            int x = rng.Next(3, 64);
            return string.Join(" ", Enumerable.Range(0, length).Select(_ => x = rng.NextDouble() < 0.9 ? 3 + (5 * x + 3) % 61 : rng.Next(3, 64)));
        }));
        return path;
    }

    /// <summary>A strategy request on tiny data: calibration and fine-tuning on <paramref name="tokens"/>, perplexity on <paramref name="eval"/>.</summary>
    public static StrategyRequest Request(string model, string tokens, string eval, PruneStrategy strategy, int drop, string criterion = "max-ews") => new()
    {
        ModelDir = model, Strategy = strategy, Criterion = criterion, Selection = new SelectionRequest { Drop = drop },
        Calibration = new CalibrationSettings { Spec = "tokens:" + tokens, Sequences = 8, Length = 16, BatchSize = 4 },
        FineTune = new FineTuneSpec
        {
            Tokens = 3L * 4 * 16, Data = "tokens:" + tokens, SequenceLength = 16, BatchSize = 4, PoolSequences = 64,
            Optimizer = new() { LearningRate = 1e-2 }, CheckpointEvery = 2,
        },
        Evaluation = new RoundEvaluationSpec { TokensFile = eval, BatchSize = 4 },
    };

    public static int[] Ints(JsonNode? node) => node!.AsArray().Select(v => (int)v!).ToArray();

    /// <summary>Every tensor of a checkpoint directory by name, as raw bytes.</summary>
    public static Dictionary<string, byte[]> TensorBytes(string dir)
    {
        using var checkpoint = CheckpointDirectory.Open(dir);
        return checkpoint.Tensors.Keys.ToDictionary(k => k, k =>
        {
            using var t = checkpoint.Read(k);
            return t.contiguous().bytes.ToArray();
        });
    }
}
