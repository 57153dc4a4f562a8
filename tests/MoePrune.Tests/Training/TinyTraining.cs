using MoePrune.Models;
using MoePrune.Native;
using MoePrune.Training;
using MoePrune.Training.Pretrain;
using static TorchSharp.torch;

namespace MoePrune.Tests.Training;

/// <summary>Tiny models, data and trainer settings shared by the training tests.</summary>
static class TinyTraining
{
    /// <summary>A 1-layer Mixtral with 4 experts of width 32, hidden 32, vocabulary 64, sequences of 32.</summary>
    public static readonly PretrainOptions Shape = new()
    {
        HiddenSize = 32, Layers = 1, Heads = 2, KeyValueHeads = 1, Experts = 4, TopK = 2, ExpertSize = 32, VocabSize = 64,
        SequenceLength = 32, BatchSize = 8, Seed = 3,
    };

    public static readonly TrainerOptions Options = new()
    {
        Tokens = 60L * 8 * 32, WarmupTokens = 5L * 8 * 32, BatchSize = 8, Optimizer = new() { LearningRate = 1e-2 },
        Loss = new LossSpec { AuxLossCoef = 0.01, ZLossCoef = 0.001 },
    };

    /// <summary>A freshly initialised tiny Mixtral (<see cref="PretrainModelFactory"/>), seeded.</summary>
    public static MoeForCausalLM Model(long seed = 3, PretrainOptions? shape = null)
    {
        TorchNative.EnsureLoaded();
        var o = (shape ?? Shape) with { Seed = seed };
        return PretrainModelFactory.Create(PretrainModelFactory.Config(o, null, null), o.InitStd, o.Seed, ScalarType.Float32);
    }

    /// <summary>A noisy deterministic chain over 64 tokens: next = (5·x + 3) mod 64 with probability 0.9, else uniform.</summary>
    public static int[] Chain(int length, int seed)
    {
        var rng = new Random(seed);
        var tokens = new int[length];
        for (int i = 1; i < length; i++)
            tokens[i] = rng.NextDouble() < 0.9 ? (5 * tokens[i - 1] + 3) % 64 : rng.Next(64);
        return tokens;
    }

    /// <summary>Copies of every parameter, by name.</summary>
    public static Dictionary<string, Tensor> Snapshot(MoeForCausalLM model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

    /// <summary>Names of the parameters whose values differ (bit for bit) from <paramref name="before"/>.</summary>
    public static HashSet<string> Changed(MoeForCausalLM model, Dictionary<string, Tensor> before) =>
        model.named_parameters().Where(p => !Same(p.parameter.detach(), before[p.name])).Select(p => p.name).ToHashSet();

    /// <summary>Same shape and every element equal.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
