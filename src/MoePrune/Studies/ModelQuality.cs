using System.Diagnostics;
using System.Text.Json.Nodes;
using MoePrune.Evaluation.Kl;
using MoePrune.Evaluation.LogLikelihood;
using MoePrune.Evaluation.Tasks;
using MoePrune.Models;
using MoePrune.Tokenization;

namespace MoePrune.Studies;

/// <summary>
/// What a study measures on a derived model against its parent: perplexity and KL(parent ‖ model) (mean, 99th
/// percentile, top-1 agreement) on fixed sequences (<see cref="KlDivergence"/>), and the accuracy of multiple-choice
/// tasks (acc and acc_norm with standard errors, <see cref="TaskRunner"/>). Tasks are prepared once (the tokenizer is read only when there are tasks).
/// </summary>
public sealed class ModelQuality
{
    private readonly MoeForCausalLM _parent;
    private readonly IReadOnlyList<int[]> _sequences;
    private readonly ContinuationEncoder? _encoder;
    private readonly IReadOnlyList<PreparedTask> _tasks;
    private readonly int _batchSize;

    public ModelQuality(MoeForCausalLM parent, string tokenizerDir, IReadOnlyList<int[]> sequences, IReadOnlyList<string> tasks, int taskLimit, int batchSize)
    {
        _parent = parent;
        _sequences = sequences;
        _batchSize = batchSize;
        if (tasks.Count == 0)
        {
            _tasks = [];
            return;
        }
        _encoder = new ContinuationEncoder(HfTokenizer.Load(tokenizerDir), addBos: false);
        var settings = new EvalSettings(Limit: taskLimit, BatchSize: batchSize);
        _tasks = TaskCatalog.Load(tasks).Select(t => TaskRunner.Prepare(t, _encoder, settings)).ToList();
    }

    /// <summary>Tasks with their document counts.</summary>
    public IEnumerable<(string Name, int Documents)> Tasks => _tasks.Select(t => (t.Task.Name, t.Documents.Count));

    /// <summary><c>{"perplexity", "kl_mean", "kl_p99", "top1_agreement", "positions", "tasks": {name: {"acc", "acc_stderr", "acc_norm", "acc_norm_stderr", "n"}}, "seconds"}</c></summary>
    public JsonObject Measure(MoeForCausalLM model)
    {
        var clock = Stopwatch.StartNew();
        var kl = KlDivergence.Evaluate(model, _parent, _sequences, _batchSize);
        var tasks = new JsonObject();
        foreach (var prepared in _tasks)
        {
            var r = TaskRunner.Run(model, prepared, _encoder!, _batchSize, batchTokens: EvalSettings.DefaultBatchTokens);
            tasks[r.Name] = new JsonObject
            {
                ["n"] = r.N,
                ["acc"] = r.Acc?.Mean, ["acc_stderr"] = r.Acc?.StandardError,
                ["acc_norm"] = r.AccNorm?.Mean, ["acc_norm_stderr"] = r.AccNorm?.StandardError,
            };
        }
        return new JsonObject
        {
            ["perplexity"] = kl.Perplexity,
            ["kl_mean"] = kl.Mean,
            ["kl_p99"] = kl.P99,
            ["top1_agreement"] = kl.Top1Agreement,
            ["positions"] = kl.Positions,
            ["tasks"] = tasks,
            ["seconds"] = clock.Elapsed.TotalSeconds,
        };
    }
}
