using System.Text.Json.Nodes;
using MoePrune.Models;
using MoePrune.Training;
using static TorchSharp.torch;

namespace MoePrune.Jobs.FineTuning;

/// <summary>What <see cref="FinetuneJob.Run"/> does: fine-tune <see cref="ModelDir"/> into <see cref="OutDir"/>.</summary>
public sealed record FinetuneRequest
{
    public required string ModelDir { get; init; }
    public required string OutDir { get; init; }
    /// <summary>Replace an existing non-empty <see cref="OutDir"/> (at the end, atomically).</summary>
    public bool Force { get; init; }
    public required FineTuneSpec Spec { get; init; }
    /// <summary>The teacher of a distillation objective (normally the unpruned parent).</summary>
    public string? TeacherDir { get; init; }
    /// <summary>The trainer's work folder (log and checkpoints; a rerun resumes from it); null: none.</summary>
    public string? WorkDir { get; init; }
    public ScalarType? Dtype { get; init; }
}

/// <summary>
/// <c>moeprune finetune</c> as a library call: load the checkpoint (and the teacher), fine-tune the selected roles
/// (<see cref="FineTuneRun"/>), and write a standard Hugging Face checkpoint with <c>finetune.json</c> (input, teacher,
/// settings, threads, losses) in one atomically renamed directory. Parameters outside the trained roles get no
/// gradient, so their tensors in the output are bit-identical to the input's.
/// </summary>
public static class FinetuneJob
{
    public const string RecordFile = "finetune.json";

    public static JsonObject Run(FinetuneRequest r, Action<StepReport>? step = null)
    {
        var spec = r.Spec;
        spec.Check();
        var names = spec.Names;
        if (spec.Objective == FineTuneObjective.Distill && r.TeacherDir is null)
            throw new MoePruneException($"{names[FineTuneNames.Objective]} distill: give the teacher model with {names[FineTuneNames.Teacher]}");
        if (spec.Objective == FineTuneObjective.Lm && r.TeacherDir is not null)
            throw new MoePruneException($"{names[FineTuneNames.Teacher]}: only used with {names[FineTuneNames.Objective]} distill");
        PruneExport.CheckOutDir(r.OutDir, r.Force, names);
        using var model = ModelLoader.Load(r.ModelDir, r.Dtype);
        using var teacher = r.TeacherDir is null ? null : ModelLoader.Load(r.TeacherDir, r.Dtype);
        if (teacher is not null && teacher.Config.VocabSize != model.Config.VocabSize)
            throw new MoePruneException($"{r.TeacherDir}: the teacher has a vocabulary of {teacher.Config.VocabSize}, {r.ModelDir} of {model.Config.VocabSize}");
        var result = FineTuneRun.Run(model, spec, spec.Tokens, spec.Seed, r.ModelDir, teacher, r.WorkDir, step);
        var record = new JsonObject
        {
            ["tool"] = "moeprune",
            ["tool_version"] = PruneJobRecord.ToolVersion,
            ["created_utc"] = DateTime.UtcNow.ToString("o"),
            ["input"] = new JsonObject
            {
                ["model_dir"] = Path.GetFullPath(r.ModelDir), ["model_type"] = model.Config.ModelType,
                ["checkpoint_fingerprint"] = model.Fingerprint, ["dtype"] = DtypeNames.ToConfigName(model.Dtype),
            },
            ["teacher"] = teacher is null ? null : new JsonObject
            {
                ["model_dir"] = Path.GetFullPath(r.TeacherDir!), ["checkpoint_fingerprint"] = teacher.Fingerprint,
            },
            ["settings"] = spec.ToJson(),
            ["threads"] = get_num_threads(),
            ["result"] = result,
        };
        PruneExport.WriteModel(model, r.OutDir, r.ModelDir, new Dictionary<string, JsonNode> { [RecordFile] = record });
        return record;
    }
}
