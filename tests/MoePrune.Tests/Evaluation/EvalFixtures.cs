using MoePrune.Models;
using MoePrune.Native;
using static TorchSharp.torch;

namespace MoePrune.Tests.Evaluation;

/// <summary>Tiny random models and naive references shared by the evaluation tests.</summary>
static class EvalFixtures
{
    /// <summary>A small random Mixtral-style model (hidden 32, 2 layers, 4 experts top-2).</summary>
    public static MoeForCausalLM Tiny(int vocab = 64, int seed = 3, string family = "mixtral")
    {
        TorchNative.EnsureLoaded();
        return TinyCheckpoint.Random(TinyCheckpoint.Config(family, hidden: 32, layers: 2, experts: 4, topK: 2, expertSize: 16, vocab: vocab), seed);
    }

    /// <summary>float64 log-softmax of the logits of ONE plain unpadded forward of <paramref name="ids"/>. (T, V)</summary>
    public static double[][] LogSoftmax(MoeForCausalLM model, IReadOnlyList<int> ids)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var input = tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);              // (1, T)
        var logp = model.Logits(input)[0].to(ScalarType.Float64).log_softmax(-1);          // (T, V) float64
        return Enumerable.Range(0, ids.Count).Select(t => logp[t].data<double>().ToArray()).ToArray();
    }

    /// <summary>Σ log p(continuation token | everything before it) from one plain forward of context + continuation.</summary>
    public static double NaiveLogLikelihood(MoeForCausalLM model, int[] context, int[] continuation)
    {
        int[] all = [.. context, .. continuation];
        var logp = LogSoftmax(model, all);
        double sum = 0;
        for (int j = 0; j < continuation.Length; j++)
        {
            int position = context.Length + j;                    // the token at `position` is predicted by row position − 1
            sum += logp[position - 1][all[position]];
        }
        return sum;
    }

    public static int[] RandomIds(Random rng, int length, int vocab) => Enumerable.Range(0, length).Select(_ => rng.Next(vocab)).ToArray();
}
