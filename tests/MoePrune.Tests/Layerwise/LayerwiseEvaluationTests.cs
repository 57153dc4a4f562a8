using MoePrune.Evaluation.Kl;
using MoePrune.Evaluation.LogLikelihood;
using MoePrune.Evaluation.Tasks;
using MoePrune.Jobs;
using MoePrune.Layerwise;
using MoePrune.Models;
using MoePrune.Tests.IO;
using MoePrune.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Layerwise;

/// <summary>
/// The evaluation harness layer by layer against in memory, on reference fixtures of several families (Mixtral, Qwen2-MoE
/// with a shared expert, OLMoE, DeepSeek-V2 with MLA; fp32 and bf16): multiple-choice log-likelihoods, predictions and
/// acc of <see cref="LayerwiseEvaluation"/> equal <see cref="ContinuationScorer"/>'s, and its KL gate of a pruned model
/// (made by the prune path) against its parent equals <see cref="KlDivergence"/>'s — also with every hidden state spilled
/// to a file — and generative tasks are refused.
/// </summary>
public sealed class LayerwiseEvaluationTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases() =>
        new("mixtral_fp32", "qwen2_moe_dense_tied_sharded", "olmoe_clip_fp32", "deepseek_v2_lite_yarn_fp32", "olmoe_bf16", "qwen2_moe_sparse_step_bf16");

    const int Vocab = 96;

    /// <summary>
    /// A multiple-choice task of random ids: choices of one and several tokens after a shared context (one-token ones share
    /// a row), one context longer than the fixtures' 64 positions (cut on the left).
    /// </summary>
    static PreparedTask Task(string name, int documents, int seed)
    {
        var rng = new Random(seed);
        var docs = new List<TaskDocument>();
        var requests = new List<ContinuationRequest>();
        var first = new List<int>();
        for (int d = 0; d < documents; d++)
        {
            int[] context = Ids(rng, d == 1 ? 70 : rng.Next(2, 20));
            int choices = rng.Next(2, 5);
            first.Add(requests.Count);
            for (int c = 0; c < choices; c++) requests.Add(new ContinuationRequest(context, Ids(rng, c % 2 == 0 ? 1 : rng.Next(2, 5))));
            docs.Add(new MultipleChoiceDocument($"{name}{d}", "", TaskSplits.Test, " ", "\n\n", name, d + 1,
                                                Enumerable.Range(0, choices).Select(c => new string('x', c + 1)).ToList(), rng.Next(choices)));
        }
        var task = new EvalTask(name, name, TaskKind.MultipleChoice, docs);
        return new PreparedTask(task, 0, docs, docs.Select(_ => "").ToList(), requests, first, []);
    }

    static int[] Ids(Random rng, int n) => Enumerable.Range(0, n).Select(_ => rng.Next(Vocab)).ToArray();

    static List<int[]> KlSequences()
    {
        var rng = new Random(8);
        return new[] { 9, 4, 13, 1, 30, 7 }.Select(n => Ids(rng, n)).ToList();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TaskLogLikelihoodsEqualTheInMemoryScorer(string fixture)
    {
        string dir = ModelFixtures.Dir(fixture);
        var tasks = new[] { Task("a", 6, 1), Task("b", 4, 2) };
        using var model = ModelLoader.Load(dir);
        using var checkpoint = LayerwiseCheckpoint.Open(dir);
        double max = 0;
        foreach (int tokens in new[] { 0, 48 })                                              // rows per batch only; short rows packed
        {
            var expected = tasks.Select(t => TaskRunner.MultipleChoiceResult(t,
                ContinuationScorer.Score(model, t.Requests, batchSize: 2, TaskRunner.MaxLength(model), batchTokens: tokens), 0)).ToList();
            var actual = LayerwiseEvaluation.Run(checkpoint, tasks, batchSize: 2, batchTokens: tokens).Tasks;   // both tasks in one run
            for (int i = 0; i < tasks.Length; i++)
            {
                var (e, a) = (expected[i], actual[i]);
                Assert.Equal((e.N, e.Truncated, e.TokensForwarded, e.TokensRequested), (a.N, a.Truncated, a.TokensForwarded, a.TokensRequested));
                if (TaskRunner.MaxLength(model) < 70) Assert.True(e.Truncated > 0, "one context is cut to the model's positions");
                Assert.Equal(e.Acc, a.Acc);
                Assert.Equal(e.AccNorm, a.AccNorm);
                for (int s = 0; s < e.Samples.Count; s++)
                {
                    var (es, as_) = (e.Samples[s].DeepClone().AsObject(), a.Samples[s].DeepClone().AsObject());
                    var el = es["loglikelihoods"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
                    var al = as_["loglikelihoods"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
                    Assert.Equal(el.Length, al.Length);
                    foreach (var (x, y) in el.Zip(al)) max = Math.Max(max, LayerwiseSupport.Rel(x, y));
                    es.Remove("loglikelihoods");
                    as_.Remove("loglikelihoods");
                    Assert.Equal(es.ToJsonString(), as_.ToJsonString());                     // predictions and gold
                }
            }
        }
        output.WriteLine($"{fixture}: max relative difference of the log-likelihoods {max:E3}");
        Assert.True(max <= 1e-5, $"max relative difference {max:E2}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheKlGateOfAPrunedModelEqualsTheInMemoryGate(string fixture)
    {
        string parentDir = ModelFixtures.Dir(fixture);
        using var tmp = new TempDir();
        string prunedDir = Pruned(parentDir, tmp);
        var sequences = KlSequences();
        KlResult expected;
        using (var model = ModelLoader.Load(prunedDir))
        using (var parent = ModelLoader.Load(parentDir))
            expected = KlDivergence.Evaluate(model, parent, sequences, batchSize: 2, positionsPerChunk: 5);
        using var checkpoint = LayerwiseCheckpoint.Open(prunedDir);
        using var reference = LayerwiseCheckpoint.Open(parentDir);
        var tasks = new[] { Task("a", 3, 4) };
        foreach (long memory in new[] { long.MaxValue, 1L })                                  // in memory; every hidden state in a file
        {
            var run = LayerwiseEvaluation.Run(checkpoint, tasks, reference, sequences, batchSize: 2, hiddenMemoryBytes: memory, positionsPerChunk: 5);
            Assert.Equal(memory == 1, run.Spilled);
            var actual = run.Kl!;
            Assert.Equal(expected.Positions, actual.Positions);
            Assert.True(expected.Mean > 1e-6, "pruning changes the model");
            var diffs = new[]
            {
                Math.Abs(expected.Mean - actual.Mean) / expected.Mean, Math.Abs(expected.P99 - actual.P99) / Math.Max(expected.P99, 1e-12),
                LayerwiseSupport.Rel(expected.Perplexity, actual.Perplexity), LayerwiseSupport.Rel(expected.ReferencePerplexity, actual.ReferencePerplexity),
            };
            output.WriteLine($"{fixture} (hidden memory {memory}): KL {expected.Mean:E4} / {actual.Mean:E4}, top-1 {expected.Top1Agreement:F4} / {actual.Top1Agreement:F4}, "
                             + $"max relative difference {diffs.Max():E3}");
            Assert.Equal(expected.Top1Agreement, actual.Top1Agreement);
            Assert.True(diffs.Max() <= 1e-5, $"max relative difference {diffs.Max():E2}");
        }
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        LayerwiseEvaluation.Run(checkpoint, tasks, reference, sequences, batchSize: 2, hiddenMemoryBytes: 1, positionsPerChunk: 5);
        LayerwiseEvaluation.Run(checkpoint, tasks, reference, sequences, batchSize: 2, positionsPerChunk: 5);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);           // no tensor left behind
    }

    [Fact]
    public void GenerativeTasksAreRefusedByName()
    {
        var gen = new GenerativeDocument("g", "Q", TaskSplits.Test, "", "\n\n", "gen.jsonl", 1, ["B"], ["\n"], 3, AnswerExtract.Letter, "ABCD");
        var tasks = new[] { Task("mc", 2, 1), new PreparedTask(new EvalTask("gen", "gen.jsonl", TaskKind.Generate, [gen]), 0, [gen], ["Q"], [], [], [[1, 2]]) };
        using var checkpoint = LayerwiseCheckpoint.Open(ModelFixtures.Dir("mixtral_fp32"));
        var e = Assert.Throws<MoePruneException>(() => LayerwiseEvaluation.Run(checkpoint, tasks));
        Assert.Equal("task gen: generative tasks cannot run layer by layer (every generated token needs every layer); run them in memory or leave them out", e.Message);
        Assert.Equal(0, checkpoint.BytesRead);
    }

    /// <summary>The fixture pruned by the prune path: one expert of each MoE layer dropped by a keep-map.</summary>
    static string Pruned(string dir, TempDir tmp)
    {
        var config = MoeConfig.Load(Path.Combine(dir, "config.json"));
        var keep = config.MoeLayerIndices.ToDictionary(l => l.ToString(),
            l => Enumerable.Range(0, config.ExpertsInLayer(l)).Where(e => e != (l + 1) % config.ExpertsInLayer(l)).ToArray());
        File.WriteAllText(tmp["keep.json"], System.Text.Json.JsonSerializer.Serialize(keep));
        PruneJob.Run(new PruneRequest { ModelDir = dir, OutDir = tmp["pruned"], KeepMapFile = tmp["keep.json"] });
        return tmp["pruned"];
    }
}
