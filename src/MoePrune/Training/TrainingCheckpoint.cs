using System.Globalization;
using System.Text.Json.Nodes;
using MoePrune.IO;
using MoePrune.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>Where a run stands: completed optimizer steps, the data position (sequences consumed) and tokens seen.</summary>
public sealed record TrainingProgressState(int Step, long DataPosition, long TokensSeen, double ElapsedSeconds);

/// <summary>
/// A resumable training checkpoint in one safetensors file: every model parameter (<c>model.{name}</c>), the
/// AdamW moments and fp32 master weights (<c>adam.*</c>), torch's default random-generator state
/// (<c>rng.torch</c>), and in <c>__metadata__</c> the step, the data position, the tokens seen, the optimizer's
/// step counts (overall and per parameter), the trained roles, the planned steps and the model config. Data sources are functions of the
/// cursor, so these fully determine the following steps. Written atomically.
/// </summary>
public static class TrainingCheckpoint
{
    public const string FileName = "checkpoint.safetensors";
    const string RngTensor = "rng.torch";

    public static void Save(string path, MoeForCausalLM model, AdamW optimizer, TrainingProgressState state, ParameterSelection trained, int totalSteps)
    {
        using var rng = torch.get_rng_state();                                        // (S) uint8
        var tensors = model.named_parameters()
            .Select(p => new KeyValuePair<string, Tensor>("model." + p.name, p.parameter.detach()))
            .Concat(optimizer.StateTensors())
            .Append(new KeyValuePair<string, Tensor>(RngTensor, rng));
        var metadata = new Dictionary<string, string>
        {
            ["step"] = state.Step.ToString(CultureInfo.InvariantCulture),
            ["data_position"] = state.DataPosition.ToString(CultureInfo.InvariantCulture),
            ["tokens_seen"] = state.TokensSeen.ToString(CultureInfo.InvariantCulture),
            ["elapsed_seconds"] = state.ElapsedSeconds.ToString("R", CultureInfo.InvariantCulture),
            ["adam_steps"] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
            ["adam_parameter_steps"] = new JsonObject(optimizer.ParameterSteps.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))).ToJsonString(),
            ["roles"] = trained.ToString(),
            ["total_steps"] = totalSteps.ToString(CultureInfo.InvariantCulture),
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

    /// <summary>
    /// Restores parameters, optimizer state and the random generator in place; returns the run's position.
    /// A checkpoint written for other roles or another step count is refused (checkpoints written before
    /// those were recorded are accepted).
    /// </summary>
    public static TrainingProgressState Load(string path, MoeForCausalLM model, AdamW optimizer, ParameterSelection trained, int totalSteps)
    {
        using var file = SafetensorsFile.Open(path);
        if (file.Metadata.TryGetValue("roles", out var roles) && roles != trained.ToString())
            throw new MoePruneException($"{path}: checkpoint of a run that trains \"{roles}\", this run trains \"{trained}\"; use a fresh work folder");
        if (file.Metadata.TryGetValue("total_steps", out var steps) && steps != totalSteps.ToString(CultureInfo.InvariantCulture))
            throw new MoePruneException($"{path}: checkpoint of a run of {steps} steps, this run has {totalSteps}; use a fresh work folder");
        using (no_grad())
            foreach (var (name, p) in model.named_parameters()) file.ReadInto("model." + name, p);
        var parameterSteps = file.Metadata.TryGetValue("adam_parameter_steps", out var json)
            ? JsonNode.Parse(json)!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<long>())
            : null;
        optimizer.LoadState(long.Parse(Meta(file, "adam_steps"), CultureInfo.InvariantCulture), file.Read, parameterSteps);
        if (file.Tensors.ContainsKey(RngTensor))
        {
            using var rng = file.Read(RngTensor);
            torch.set_rng_state(rng);
        }
        return new TrainingProgressState(
            int.Parse(Meta(file, "step"), CultureInfo.InvariantCulture),
            long.Parse(Meta(file, "data_position"), CultureInfo.InvariantCulture),
            long.Parse(Meta(file, "tokens_seen"), CultureInfo.InvariantCulture),
            double.Parse(Meta(file, "elapsed_seconds"), CultureInfo.InvariantCulture));
    }

    static string Meta(SafetensorsFile file, string key) =>
        file.Metadata.TryGetValue(key, out var v) ? v : throw new MoePruneException($"{file.Path}: checkpoint metadata lacks \"{key}\"");
}
