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
                             IReadOnlyDictionary<string, JsonNode>? extraFiles = null)
    {
        if (maxShardBytes <= 0)
            throw new MoePruneException($"max shard size must be positive, got {maxShardBytes}");
        string target = Path.GetFullPath(outDir);
        if (File.Exists(target))
            throw new MoePruneException($"{outDir}: output path is an existing file");
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
            throw new MoePruneException($"{outDir}: output directory exists and is not empty");
        if (copyAuxFrom is not null && !Directory.Exists(copyAuxFrom))
            throw new MoePruneException($"{copyAuxFrom}: model directory does not exist");
        CheckExtraFiles(outDir, extraFiles);
        string parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);

        string temp = Path.Combine(parent, $".{Path.GetFileName(target)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            JsonFile.WriteAtomic(Path.Combine(temp, CheckpointDirectory.ConfigFile), config.DeepClone());
            WriteShards(temp, tensors, maxShardBytes, disposeTensors);
            if (copyAuxFrom is not null)
                foreach (var name in AuxFiles)
                {
                    string source = Path.Combine(copyAuxFrom, name);
                    if (File.Exists(source)) File.Copy(source, Path.Combine(temp, name));
                }
            foreach (var (name, json) in extraFiles ?? new Dictionary<string, JsonNode>())
                JsonFile.WriteAtomic(Path.Combine(temp, name), json.DeepClone());
            if (Directory.Exists(target)) Directory.Delete(target);       // empty, checked above
            Directory.Move(temp, target);
        }
        catch
        {
            try { Directory.Delete(temp, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            throw;
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
    static void WriteShards(string dir, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, long maxShardBytes, bool disposeTensors)
    {
        var shardNames = new List<List<string>>();                         // tensor names per written shard
        var seen = new HashSet<string>();
        var pending = new List<KeyValuePair<string, torch.Tensor>>();
        long pendingBytes = 0, totalBytes = 0;

        void Flush()
        {
            string path = Path.Combine(dir, PartName(shardNames.Count));
            try
            {
                SafetensorsWriter.Write(path, pending);
            }
            finally
            {
                if (disposeTensors) foreach (var (_, t) in pending) t.Dispose();
            }
            shardNames.Add(pending.Select(kv => kv.Key).ToList());
            pending.Clear();
            pendingBytes = 0;
        }

        torch.Tensor? current = null;                                      // taken from the enumerator, not yet pending
        try
        {
            foreach (var kv in tensors)
            {
                current = kv.Value;
                if (!seen.Add(kv.Key))
                    throw new MoePruneException($"{dir}: tensor \"{kv.Key}\" is exported twice");
                long bytes = SafetensorsWriter.ByteLength(kv.Value);
                if (pending.Count > 0 && pendingBytes + bytes > maxShardBytes) Flush();
                pending.Add(kv);
                current = null;
                pendingBytes += bytes;
                totalBytes += bytes;
            }
            if (pending.Count > 0 || shardNames.Count == 0) Flush();
        }
        catch
        {
            if (disposeTensors)                                              // tensors taken but never written
            {
                foreach (var (_, t) in pending) t.Dispose();
                current?.Dispose();
            }
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
