using System.Text.Json.Nodes;
using MoePrune.Models;
using MoePrune.Pruning;

namespace MoePrune.Jobs;

/// <summary>
/// One round in progress or done: the model it started from (<see cref="Parent"/>, not owned), what it chose
/// (<see cref="Choice"/>, <see cref="Plan"/>), the lineage before and after, and the pruned model, built in
/// memory with <see cref="ExpertSurgery.Apply"/> on first use of <see cref="Model"/> (a round whose model nobody
/// needs, such as a one-shot prune that exports straight from the parent, never builds it). Disposing the round
/// disposes the pruned model unless it was taken with <see cref="TakeModel"/>.
/// </summary>
public sealed class RoundContext : IDisposable
{
    private MoeForCausalLM? _model;
    private bool _disposed, _taken;

    internal RoundContext(int round, MoeForCausalLM parent, RoundSpec spec, RoundChoice choice, ExpertPlan plan,
        ExpertLineage before, ExpertLineage after)
    {
        Round = round;
        Parent = parent;
        Spec = spec;
        Choice = choice;
        Plan = plan;
        LineageBefore = before;
        LineageAfter = after;
    }

    /// <summary>1-based round number.</summary>
    public int Round { get; }
    public MoeForCausalLM Parent { get; }
    public RoundSpec Spec { get; }
    public RoundChoice Choice { get; }
    /// <summary>The surgery of this round in the parent's slot indices.</summary>
    public ExpertPlan Plan { get; }
    public ExpertLineage LineageBefore { get; }
    public ExpertLineage LineageAfter { get; }
    /// <summary>What the round did to the MTP layers (null when the model has none).</summary>
    public MtpChoice? Mtp { get; init; }
    /// <summary>What the fine-tune hook recorded (null when none ran).</summary>
    public JsonNode? FineTune { get; internal set; }
    /// <summary>What the evaluate hook recorded (null when none ran).</summary>
    public JsonNode? Evaluation { get; internal set; }

    /// <summary>The pruned model (built on first use; owned by the round until taken).</summary>
    public MoeForCausalLM Model
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _model ??= ExpertSurgery.Apply(Parent, Plan, Spec.NonUniform);
        }
    }

    /// <summary>True once the pruned model exists in memory (a hook used it).</summary>
    public bool IsBuilt => _model is not null;

    /// <summary>Hands the pruned model (building it if needed) to the caller, who disposes it.</summary>
    public MoeForCausalLM TakeModel()
    {
        var model = Model;
        _model = null;
        _taken = true;
        return model;
    }

    /// <summary>True when <see cref="TakeModel"/> handed the model on.</summary>
    public bool WasTaken => _taken;

    /// <summary><c>record.json</c> of this round (<see cref="RoundRecord"/>).</summary>
    public JsonObject ToRecord() => RoundRecord.Build(this);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _model?.Dispose();
        _model = null;
    }
}
