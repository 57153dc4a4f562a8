using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.IO.Gguf;

/// <summary>
/// Writes a model as a GGUF file for llama.cpp: mixtral → <c>llama</c>, qwen2_moe → <c>qwen2moe</c>,
/// qwen3_moe → <c>qwen3moe</c>, olmoe → <c>olmoe</c>, with the tokenizer of the model directory embedded.
/// Everything llama.cpp cannot compute exactly is refused before the file is created
/// (<see cref="GgufCompatibility"/>, <see cref="GgufVocabulary"/>); the file appears atomically.
/// </summary>
public static class GgufExporter
{
    /// <summary>Exports an in-memory model (e.g. after <c>ExpertSurgery.Apply</c>).</summary>
    /// <param name="tokenizerDir">The directory holding tokenizer.json (and tokenizer_config.json), usually the source model's.</param>
    /// <param name="type">Matrix type; null = the model's dtype (float32 → f32, bfloat16 → bf16, float16 → f16).</param>
    public static void Export(MoeForCausalLM model, string tokenizerDir, string outFile, GgufFloatType? type = null, string? name = null)
    {
        var parameters = model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter));
        Export(model.Config, parameters, tokenizerDir, outFile, type ?? DefaultType(model.Dtype), name);
    }

    /// <summary>
    /// Exports tensors given by Hugging Face name (per-expert or fused expert layout), consumed once in any
    /// order and not disposed: the form a streaming checkpoint sink takes.
    /// </summary>
    public static void Export(MoeConfig config, IEnumerable<KeyValuePair<string, Tensor>> tensors, string tokenizerDir,
                              string outFile, GgufFloatType type, string? name = null)
    {
        var tokenizer = GgufVocabulary.Load(tokenizerDir, config.VocabSize);
        using var sink = new GgufCheckpointSink(config, tokenizer, outFile, type, name ?? DefaultName(tokenizerDir));
        foreach (var (tensorName, tensor) in tensors) sink.Write(tensorName, tensor);
        sink.Complete();
    }

    /// <summary>
    /// Exports a checkpoint directory without building the model: each stored tensor is read, written and
    /// released in turn, so memory stays at about one tensor. <paramref name="type"/> null = the checkpoint's dtype.
    /// </summary>
    public static GgufExportSummary ExportCheckpoint(string modelDir, string outFile, GgufFloatType? type = null)
    {
        using var checkpoint = CheckpointDirectory.Open(modelDir);
        var config = MoeConfig.Parse(checkpoint.Config, Path.Combine(modelDir, CheckpointDirectory.ConfigFile));
        var fileType = type ?? DefaultType(config.Dtype);
        var tokenizer = GgufVocabulary.Load(modelDir, config.VocabSize);
        int planned;
        try
        {
            using var sink = new GgufCheckpointSink(config, tokenizer, outFile, fileType, DefaultName(modelDir));
            var unexpected = checkpoint.Tensors.Keys.Where(n => sink.Plan.Route(n) is null).ToList();
            if (unexpected.Count > 0)
                throw new MoePruneException($"{modelDir}: tensors with no GGUF place: {MoePruneException.Summarize(unexpected)}", unexpected);
            var names = checkpoint.Tensors.Keys.Order(StringComparer.Ordinal).ToList();
            for (int i = 0; i < names.Count; i++)
            {
                using (var tensor = checkpoint.Read(names[i]))
                    sink.Write(names[i], tensor);
                Progress.StepProgress.Report("export", i + 1, names.Count, "tensors", outFile);
            }
            sink.Complete();
            planned = sink.Plan.Tensors.Count;
        }
        catch (Exception e) when (IoErrors.IsIo(e) && IoErrors.Concerns(e, outFile))
        {
            throw IoErrors.Wrap(outFile, e);
        }
        return new GgufExportSummary(outFile, GgufArchitecture.For(config.Family).Name, fileType, planned,
                                     new FileInfo(outFile).Length, config.NumExperts);
    }

    /// <summary>Runs every refusal (model and tokenizer) without writing anything.</summary>
    public static void Check(MoeConfig config, string tokenizerDir)
    {
        GgufCompatibility.Check(config, GgufArchitecture.For(config.Family), config.Path);
        GgufVocabulary.Load(tokenizerDir, config.VocabSize);
    }

    /// <summary>What was written.</summary>
    public sealed record GgufExportSummary(string Path, string Architecture, GgufFloatType Type, int Tensors, long Bytes, int Experts);

    public static GgufFloatType DefaultType(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => GgufFloatType.BF16,
        ScalarType.Float16 => GgufFloatType.F16,
        _ => GgufFloatType.F32,
    };

    private static string DefaultName(string dir) => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
}
