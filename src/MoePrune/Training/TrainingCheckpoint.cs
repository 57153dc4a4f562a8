using System.Globalization;
using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>Where a run stands: completed optimizer steps, the data position (sequences consumed) and tokens seen.</summary>
public sealed record TrainingProgressState(int Step, long DataPosition, long TokensSeen, double ElapsedSeconds);

/// <summary>
/// A resumable training checkpoint in one safetensors file: the model parameters (<c>model.{name}</c>), the
/// AdamW moments and fp32 master weights (<c>adam.*</c>), and in <c>__metadata__</c> the step, the data
/// position, the tokens seen, the optimizer's step count and the model config. No random numbers are drawn
/// after initialisation (no dropout; the data order is a function of seed and position), so these fully
/// determine the following steps. Written atomically.
/// </summary>
public static class TrainingCheckpoint
{
    public const string FileName = "checkpoint.safetensors";

    public static void Save(string path, MoeForCausalLM model, AdamW optimizer, TrainingProgressState state)
    {
        var tensors = model.named_parameters()
            .Select(p => new KeyValuePair<string, Tensor>("model." + p.name, p.parameter.detach()))
            .Concat(optimizer.StateTensors());
        var metadata = new Dictionary<string, string>
        {
            ["step"] = state.Step.ToString(CultureInfo.InvariantCulture),
            ["data_position"] = state.DataPosition.ToString(CultureInfo.InvariantCulture),
            ["tokens_seen"] = state.TokensSeen.ToString(CultureInfo.InvariantCulture),
            ["elapsed_seconds"] = state.ElapsedSeconds.ToString("R", CultureInfo.InvariantCulture),
            ["adam_steps"] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
            ["config"] = model.Config.ToJson(model.Dtype).ToJsonString(),
        };
        SafetensorsWriter.Write(path, tensors, metadata);
    }

    /// <summary>The config stored in a checkpoint.</summary>
    public static JsonObject ReadConfig(string path)
    {
        using var file = SafetensorsFile.Open(path);
        return JsonNode.Parse(Meta(file, "config")) as JsonObject ?? throw new MoePruneException($"{path}: metadata config is not a JSON object");
    }

    /// <summary>Restores parameters and optimizer state in place; returns the run's position.</summary>
    public static TrainingProgressState Load(string path, MoeForCausalLM model, AdamW optimizer)
    {
        using var file = SafetensorsFile.Open(path);
        foreach (var (name, p) in model.named_parameters()) file.ReadInto("model." + name, p);
        optimizer.LoadState(long.Parse(Meta(file, "adam_steps"), CultureInfo.InvariantCulture), file.Read);
        return new TrainingProgressState(
            int.Parse(Meta(file, "step"), CultureInfo.InvariantCulture),
            long.Parse(Meta(file, "data_position"), CultureInfo.InvariantCulture),
            long.Parse(Meta(file, "tokens_seen"), CultureInfo.InvariantCulture),
            double.Parse(Meta(file, "elapsed_seconds"), CultureInfo.InvariantCulture));
    }

    static string Meta(SafetensorsFile file, string key) =>
        file.Metadata.TryGetValue(key, out var v) ? v : throw new MoePruneException($"{file.Path}: checkpoint metadata lacks \"{key}\"");
}
