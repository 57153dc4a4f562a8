using System.Text.Json.Nodes;

namespace MoePrune.IO;

/// <summary>
/// Where an exported checkpoint goes: Hugging Face safetensors (<see cref="SafetensorsCheckpointSink"/>) today,
/// GGUF later. A sink writes everything or nothing.
/// </summary>
public interface ICheckpointSink
{
    /// <summary>
    /// Writes <paramref name="config"/> (config.json), the tensors and <paramref name="extraFiles"/> (plain file
    /// name → JSON, e.g. pruning.json). <paramref name="tensors"/> is enumerated once, lazily, in the order given;
    /// the sink pulls each tensor's bytes when it writes it and disposes every output it took, written or not.
    /// </summary>
    void Write(JsonObject config, IEnumerable<OutputTensor> tensors, IReadOnlyDictionary<string, JsonNode>? extraFiles = null);
}

/// <summary>A Hugging Face model directory written by <see cref="CheckpointWriter"/>: shards of at most <paramref name="maxShardBytes"/>, tokenizer files copied from <paramref name="copyAuxFrom"/>.</summary>
public sealed class SafetensorsCheckpointSink(string outDir, long maxShardBytes = 5_000_000_000, string? copyAuxFrom = null) : ICheckpointSink
{
    public string OutDir => outDir;

    public void Write(JsonObject config, IEnumerable<OutputTensor> tensors, IReadOnlyDictionary<string, JsonNode>? extraFiles = null) =>
        CheckpointWriter.WriteOutputs(outDir, config, tensors, maxShardBytes, copyAuxFrom, extraFiles);
}
