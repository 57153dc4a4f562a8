using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using MoePrune.Training;

namespace MoePrune.Jobs.FineTuning;

/// <summary>
/// The fine-tune step of pruning rounds (the MoE Lottery's "task-agnostic budget fine-tuning", or a recalibration
/// after a one-shot cut): round k trains the round's pruned model in place on <see cref="FineTuneSpec.Tokens"/> ·
/// growth^(k−1) tokens with data seed <see cref="FineTuneSpec.Seed"/> + k − 1, distilling from the original model when
/// the objective says so. With a run folder each round's trainer works in <c>finetune-k/</c> (beside the round
/// folders, which a resume discards when unfinished), so a run killed during a fine-tune resumes from its last
/// trainer checkpoint; a folder written for another cut is discarded. <see cref="Before"/> (optional) measures the
/// pruned model before training, e.g. its perplexity and expert load.
/// </summary>
public sealed class RoundFineTune(FineTuneSpec spec, double growth, string tokenizerDir, MoeForCausalLM original, string? workDir)
{
    public const string FolderPrefix = "finetune-";
    const string LineageFile = "lineage.json";

    /// <summary>Measures the pruned model before it is trained (recorded as <c>before</c>); null: nothing.</summary>
    public Func<MoeForCausalLM, JsonNode?>? Before { get; init; }
    public Action<int, StepReport>? Step { get; init; }

    /// <summary>The budget of round <paramref name="round"/>.</summary>
    public long TokensFor(int round) => (long)Math.Round(spec.Tokens * Math.Pow(growth, round - 1));

    public RoundHooks With(RoundHooks hooks) => hooks with { FineTune = Run };

    public JsonNode? Run(RoundContext round)
    {
        string? dir = workDir is null ? null : Path.Combine(workDir, FolderPrefix + round.Round);
        if (dir is not null) Prepare(dir, round);
        var before = Before?.Invoke(round.Model);
        long tokens = TokensFor(round.Round);
        var record = FineTuneRun.Run(round.Model, spec, tokens, spec.Seed + round.Round - 1, tokenizerDir,
                                     spec.Objective == FineTuneObjective.Distill ? original : null, dir,
                                     Step is null ? null : r => Step(round.Round, r));
        if (before is not null) record["before"] = before;
        return record;
    }

    /// <summary>
    /// Keeps the round's trainer folder when it was written for the same cut (a resumed fine-tune), else starts it
    /// afresh; drops the checkpoints of earlier rounds, which finished (their models are in the round folders).
    /// </summary>
    void Prepare(string dir, RoundContext round)
    {
        var lineage = round.LineageAfter.ToJson();
        string file = Path.Combine(dir, LineageFile);
        if (Directory.Exists(dir) && (!File.Exists(file) || !JsonNode.DeepEquals(JsonFile.ReadObject(file), lineage)))
            Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        if (!File.Exists(file)) JsonFile.WriteAtomic(file, lineage);
        for (int k = 1; k < round.Round; k++)
        {
            string old = Path.Combine(workDir!, FolderPrefix + k, TrainingCheckpoint.FileName);
            if (File.Exists(old)) File.Delete(old);
        }
    }

    /// <summary>Deletes the trainer checkpoints left in a finished run folder (the logs stay).</summary>
    public static void Clean(string workDir)
    {
        foreach (var dir in Directory.EnumerateDirectories(workDir, FolderPrefix + "*"))
        {
            string checkpoint = Path.Combine(dir, TrainingCheckpoint.FileName);
            if (File.Exists(checkpoint)) File.Delete(checkpoint);
        }
    }
}
