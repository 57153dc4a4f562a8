using MoePrune.Models;
using MoePrune.Training;
using Xunit;
using Xunit.Abstractions;
using static MoePrune.Tests.Training.TinyTraining;
using static TorchSharp.torch;

namespace MoePrune.Tests.Training;

/// <summary>Distillation and answer-only masks against losses written out in the test.</summary>
public sealed class TrainingLossTests(ITestOutputHelper output)
{
    static TrainingBatch Batch(long seed)
    {
        var rng = new Random((int)seed);
        var ids = Enumerable.Range(0, 3 * 12).Select(_ => (long)rng.Next(64)).ToArray();
        return new TrainingBatch(tensor(ids, [3, 12]), 3);                                  // (3, 12) int64
    }

    static Dictionary<string, Tensor> Gradients(MoeForCausalLM model) =>
        model.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.clone());

    static void ZeroGradients(MoeForCausalLM model)
    {
        foreach (var p in model.parameters()) p.grad = null;
    }

    [Fact]
    public void DistillingAModelIntoItselfHasZeroLossAndZeroGradient()
    {
        using var model = Model();
        model.train();
        using var scope = NewDisposeScope();
        var batch = Batch(1);
        var terms = TrainingLoss.Compute(model, batch, new LossSpec { CrossEntropy = 0, Distillation = 1 }, teacher: model);
        terms.Loss.backward();
        var grads = Gradients(model);
        double maxGrad = grads.Values.Max(g => g.abs().max().item<float>());
        // The same batch's cross-entropy gradient, for scale.
        ZeroGradients(model);
        TrainingLoss.Compute(model, batch, new LossSpec()).Loss.backward();
        double ceGrad = Gradients(model).Values.Max(g => g.abs().max().item<float>());
        ZeroGradients(model);
        output.WriteLine($"self-distillation loss {terms.Loss.item<float>():E2}, max |grad| {maxGrad:E2} (cross-entropy's {ceGrad:E2})");
        Assert.Equal(0f, terms.Loss.item<float>());
        Assert.Equal(model.parameters().Count(), grads.Count);
        // d/dz KL = softmax(z) · Σp_t − p_t: zero up to Σp_t = 1 in fp32.
        Assert.True(maxGrad < 1e-6 * ceGrad, $"max |grad| {maxGrad}");
    }

    [Fact]
    public void DistillationIsTheKlOfTheTeacherToTheStudentPerRow()
    {
        using var student = Model(seed: 3);
        using var teacher = Model(seed: 4);
        using var scope = NewDisposeScope();
        var batch = Batch(2);
        var terms = TrainingLoss.Compute(student, batch, new LossSpec { CrossEntropy = 0.5, Distillation = 2 }, teacher);
        // Naive: float64 softmaxes, the rows that have a target (t < T−1).
        var s = student.Logits(batch.InputIds).detach().to(ScalarType.Float64);            // (B, T, V)
        var t = teacher.Logits(batch.InputIds).detach().to(ScalarType.Float64);            // (B, T, V)
        double kl = 0, nll = 0;
        int rows = 0;
        var ids = batch.InputIds.data<long>().ToArray();
        for (int b = 0; b < 3; b++)
            for (int i = 0; i < 11; i++)
            {
                var ls = s[b, i].log_softmax(0).data<double>().ToArray();
                var lt = t[b, i].log_softmax(0).data<double>().ToArray();
                kl += lt.Zip(ls).Sum(p => Math.Exp(p.First) * (p.First - p.Second));
                nll -= ls[ids[b * 12 + i + 1]];
                rows++;
            }
        kl /= rows;
        nll /= rows;
        double got = terms.Distillation!.item<float>(), loss = terms.Loss.item<float>();
        output.WriteLine($"KL {got:R} naive {kl:R}; loss {loss:R} naive {0.5 * nll + 2 * kl:R}");
        Assert.True(kl > 1e-3);
        Assert.Equal(kl, got, 5);
        Assert.Equal(nll, terms.CrossEntropy.item<float>(), 5);
        Assert.Equal(0.5 * nll + 2 * kl, loss, 5);
        Assert.Throws<MoePruneException>(() => new LossSpec { Distillation = 1 }.Validate(hasTeacher: false));
    }

    [Fact]
    public void TokensOutsideTheAnswerContributeNothingToLossOrGradient()
    {
        using var model = Model();
        model.train();
        var examples = new List<PromptAnswer>
        {
            new([5, 9, 13, 2], [40, 41, 42]), new([7, 8], [50, 51, 52, 53, 54]), new([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [11, 12, 13, 14]),
        };
        var data = new PromptAnswerDataset(examples, sequenceLength: 12, seed: 1);
        using var scope = NewDisposeScope();
        var batch = data.Read(new DataCursor(0, 0, 0), 3);
        var terms = TrainingLoss.Compute(model, batch, new LossSpec());
        terms.Loss.backward();
        var grads = Gradients(model);
        ZeroGradients(model);

        // Reference: the mean NLL of the answer tokens only, gathered by hand from the logits of each example alone
        // (its own length, no padding), then its gradient.
        Tensor reference = zeros(1);
        int answerTokens = 0;
        foreach (var e in examples)
        {
            int length = Math.Min(12, e.Prompt.Length + e.Answer.Length);
            var seq = e.Prompt.Concat(e.Answer).Take(length).Select(x => (long)x).ToArray();
            var logp = model.Logits(tensor(seq, [1, length]))[0].log_softmax(-1);        // (L, V)
            for (int i = e.Prompt.Length; i < length; i++, answerTokens++)
                reference = reference - logp[i - 1, seq[i]];
        }
        reference = reference / answerTokens;
        reference.backward();
        var expected = Gradients(model);
        ZeroGradients(model);

        double lossDiff = Math.Abs(terms.Loss.item<float>() - reference.item<float>());
        double gradDiff = expected.Max(kv => (grads[kv.Key] - kv.Value).abs().max().item<float>());
        double gradScale = expected.Values.Max(g => g.abs().max().item<float>());
        output.WriteLine($"answer tokens {answerTokens}; loss {terms.Loss.item<float>():R} vs {reference.item<float>():R} (diff {lossDiff:E2}); max grad diff {gradDiff:E2} of {gradScale:E2}");
        Assert.Equal(3 + 5 + 2, answerTokens);                                              // the third answer is cut at 12 tokens
        Assert.Equal(answerTokens, (int)batch.TargetWeights!.sum().item<float>());
        Assert.True(lossDiff < 1e-5);
        Assert.True(gradDiff < 1e-5 * Math.Max(1, gradScale), $"max grad diff {gradDiff}");
        Assert.Equal(expected.Keys.Order(), grads.Keys.Order());
    }
}
