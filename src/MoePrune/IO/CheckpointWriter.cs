using System.Text.Json.Nodes;
using TorchSharp;

namespace MoePrune.IO;

/// <summary>
/// Writes a Hugging Face model directory: config.json, safetensors shards (one <c>model.safetensors</c>
/// when everything fits in one shard, else <c>model-0000k-of-0000N.safetensors</c> plus
/// <c>model.safetensors.index.json</c>) and the tokenizer/generation files of the source model.
/// Everything is written into a temporary sibling directory that is renamed to the output at the end,
/// so a failure leaves neither the output nor the temporary directory behind.
/// </summary>
public static class CheckpointWriter
{
    /// <summary>Files copied unchanged from the source model directory when present.</summary>
    public static readonly IReadOnlyList<string> AuxFiles =
    [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
        "chat_template.jinja", "chat_template.json", "tokenizer.model", "vocab.json", "merges.txt",
        "vocab.txt", "added_tokens.json",
    ];

    /// <summary>
    /// Writes the checkpoint. <paramref name="tensors"/> is consumed once and lazily: at most one shard's
    /// tensors are held at a time. With <paramref name="disposeTensors"/> each tensor is disposed once
    /// written (for enumerators that create fresh tensors, e.g. sliced experts). <paramref name="extraFiles"/>
    /// (plain file name → JSON, e.g. <c>pruning.json</c>) are written into the same atomic directory.
    /// </summary>
    public static void Write(string outDir, JsonObject config, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
                             long maxShardBytes = 5_000_000_000, string? copyAuxFrom = null, bool disposeTensors = false,
                             IReadOnlyDictionary<string, JsonNode>? extraFiles = null) =>
        WriteOutputs(outDir, config, Outputs(outDir, tensors, disposeTensors), maxShardBytes, copyAuxFrom, extraFiles);

    /// <summary>
    /// Writes the checkpoint from <see cref="OutputTensor"/>s, consumed once and lazily, in the order given: a shard
    /// is laid out from the tensors' metadata, then each tensor's bytes are pulled as it is written and the
    /// output disposed, so only one tensor's data need exist at a time (sources larger than memory stream through).
    /// </summary>
    public static void WriteOutputs(string outDir, JsonObject config, IEnumerable<OutputTensor> tensors, long maxShardBytes = 5_000_000_000,
                             string? copyAuxFrom = null, IReadOnlyDictionary<string, JsonNode>? extraFiles = null)
    {
        if (maxShardBytes <= 0)
            throw new MoePruneException($"max shard size must be positive, got {maxShardBytes}");
        if (copyAuxFrom is not null && !Directory.Exists(copyAuxFrom))
            throw new MoePruneException($"{copyAuxFrom}: model directory does not exist");
        CheckExtraFiles(outDir, extraFiles);
        AtomicDirectory.Create(outDir, staging =>
        {
            JsonFile.WriteAtomic(Path.Combine(staging, CheckpointDirectory.ConfigFile), config.DeepClone());
            WriteShards(staging, tensors, maxShardBytes);
            if (copyAuxFrom is not null)
                foreach (var name in AuxFiles)
                {
                    string source = Path.Combine(copyAuxFrom, name);
                    if (File.Exists(source)) File.Copy(source, Path.Combine(staging, name));
                }
            foreach (var (name, json) in extraFiles ?? new Dictionary<string, JsonNode>())
                JsonFile.WriteAtomic(Path.Combine(staging, name), json.DeepClone());
        });
    }

    /// <summary>Torch tensors as outputs (owned when <paramref name="dispose"/>); a dtype error names the output directory.</summary>
    static IEnumerable<OutputTensor> Outputs(string outDir, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, bool dispose)
    {
        foreach (var (name, tensor) in tensors)
        {
            OutputTensor output;
            try
            {
                output = OutputTensor.FromTensor(name, tensor, owned: dispose);
            }
            catch (MoePruneException e)
            {
                if (dispose) tensor.Dispose();
                throw new MoePruneException($"{outDir}: {e.Message}", inner: e);
            }
            yield return output;
        }
    }

    /// <summary>Extra files must be plain file names that do not collide with the checkpoint's own files.</summary>
    static void CheckExtraFiles(string outDir, IReadOnlyDictionary<string, JsonNode>? extraFiles)
    {
        foreach (var name in extraFiles?.Keys ?? [])
        {
            bool plain = name.Length > 0 && name == Path.GetFileName(name) && name is not ("." or "..");
            bool reserved = name is CheckpointDirectory.ConfigFile or CheckpointDirectory.IndexFile or CheckpointDirectory.SingleFile
                            || name.EndsWith(".safetensors", StringComparison.Ordinal) || AuxFiles.Contains(name);
            if (!plain || reserved)
                throw new MoePruneException($"{outDir}: extra file \"{name}\" is not a plain file name or collides with a checkpoint file");
        }
    }

    /// <summary>Groups tensors greedily into shards of at most maxShardBytes (a larger tensor gets a shard of its own).</summary>
    static void WriteShards(string dir, IEnumerable<OutputTensor> tensors, long maxShardBytes)
    {
        var shardNames = new List<List<string>>();                         // tensor names per written shard
        var seen = new HashSet<string>();
        var pending = new List<OutputTensor>();
        long pendingBytes = 0, totalBytes = 0;

        void Flush()
        {
            string path = Path.Combine(dir, PartName(shardNames.Count));
            try
            {
                SafetensorsWriter.WriteOutputs(path, pending);
            }
            finally
            {
                foreach (var t in pending) t.Dispose();
            }
            shardNames.Add(pending.Select(t => t.Name).ToList());
            pending.Clear();
            pendingBytes = 0;
        }

        OutputTensor? current = null;                                      // taken from the enumerator, not yet pending
        try
        {
            foreach (var tensor in tensors)
            {
                current = tensor;
                if (!seen.Add(tensor.Name))
                    throw new MoePruneException($"{dir}: tensor \"{tensor.Name}\" is exported twice");
                if (pending.Count > 0 && pendingBytes + tensor.Bytes > maxShardBytes) Flush();
                pending.Add(tensor);
                current = null;
                pendingBytes += tensor.Bytes;
                totalBytes += tensor.Bytes;
            }
            if (pending.Count > 0 || shardNames.Count == 0) Flush();
        }
        catch
        {
            foreach (var t in pending) t.Dispose();                         // taken but never written
            current?.Dispose();
            throw;
        }
        NameShards(dir, shardNames, totalBytes);
    }

    /// <summary>Renames the parts to their final names (now that N is known) and writes the index when N > 1.</summary>
    static void NameShards(string dir, List<List<string>> shardNames, long totalBytes)
    {
        int n = shardNames.Count;
        if (n == 1)
        {
            File.Move(Path.Combine(dir, PartName(0)), Path.Combine(dir, CheckpointDirectory.SingleFile));
            return;
        }
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int k = 0; k < n; k++)
        {
            string final = ShardName(k + 1, n);
            File.Move(Path.Combine(dir, PartName(k)), Path.Combine(dir, final));
            foreach (var name in shardNames[k]) weightMap[name] = final;
        }
        var map = new JsonObject();
        foreach (var (name, file) in weightMap) map[name] = file;
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = totalBytes },
            ["weight_map"] = map,
        };
        JsonFile.WriteAtomic(Path.Combine(dir, CheckpointDirectory.IndexFile), index);
    }

    /// <summary>The Hugging Face shard name, e.g. model-00002-of-00003.safetensors.</summary>
    public static string ShardName(int k, int n) => $"model-{k:D5}-of-{n:D5}.safetensors";

    static string PartName(int k) => $"part-{k:D5}.safetensors.partial";
}
