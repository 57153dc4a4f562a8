using System.IO.Hashing;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;

namespace MoePrune.IO;

/// <summary>
/// A Hugging Face model directory: <c>config.json</c> plus either one <c>model.safetensors</c> or a
/// <c>model.safetensors.index.json</c> whose <c>weight_map</c> names the shard of every tensor.
/// Opening validates every shard header and that the index and the shards agree exactly.
/// </summary>
public sealed class CheckpointDirectory : IDisposable
{
    public const string ConfigFile = "config.json";
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    readonly Dictionary<string, SafetensorsFile> _shards;           // file name → open shard
    readonly Dictionary<string, string> _shardOf;                   // tensor name → file name

    public string Dir { get; }

    /// <summary>config.json exactly as parsed; nothing is interpreted here.</summary>
    public JsonObject Config { get; }

    /// <summary>All tensors of all shards, shard by shard in data order.</summary>
    public IReadOnlyDictionary<string, TensorEntry> Tensors { get; }

    /// <summary>Shard file names (relative to <see cref="Dir"/>) in index order.</summary>
    public IReadOnlyList<string> ShardFiles { get; }

    /// <summary>Sum of the byte lengths of all tensors (the index's <c>total_size</c>).</summary>
    public long TotalBytes { get; }

    CheckpointDirectory(string dir, JsonObject config, List<string> shardFiles, Dictionary<string, SafetensorsFile> shards)
    {
        Dir = dir;
        Config = config;
        ShardFiles = shardFiles;
        _shards = shards;
        _shardOf = [];
        var tensors = new OrderedDictionary<string, TensorEntry>();
        foreach (var file in shardFiles)
            foreach (var (name, entry) in shards[file].Tensors)
            {
                tensors.Add(name, entry);
                _shardOf[name] = file;
            }
        Tensors = tensors;
        TotalBytes = tensors.Values.Sum(e => e.Bytes);
    }

    public static CheckpointDirectory Open(string dir)
    {
        if (!Directory.Exists(dir))
            throw new MoePruneException($"{dir}: model directory does not exist");
        var config = JsonFile.ReadObject(Path.Combine(dir, ConfigFile));
        string indexPath = Path.Combine(dir, IndexFile);
        if (File.Exists(indexPath))
            return OpenSharded(dir, config, indexPath);
        if (File.Exists(Path.Combine(dir, SingleFile)))
            return OpenShards(dir, config, [SingleFile], weightMap: null);
        throw new MoePruneException($"{dir}: neither {SingleFile} nor {IndexFile} found");
    }

    /// <summary>The shard file (relative name) that holds <paramref name="tensorName"/>.</summary>
    public string ShardOf(string tensorName) =>
        _shardOf.TryGetValue(tensorName, out var f) ? f : throw new MoePruneException($"{Dir}: no tensor named \"{tensorName}\"");

    /// <summary>The open safetensors file that holds <paramref name="tensorName"/>.</summary>
    public SafetensorsFile FileOf(string tensorName) => _shards[ShardOf(tensorName)];

    /// <summary>An open shard by its file name (one of <see cref="ShardFiles"/>).</summary>
    public SafetensorsFile Shard(string file) => _shards[file];

    /// <summary>A new CPU tensor in the file's dtype (see <see cref="SafetensorsFile.Read"/>); hashes the bytes read when asked.</summary>
    public torch.Tensor Read(string name, XxHash128? hash = null) => FileOf(name).Read(name, hash);

    /// <summary>Shape-checked copy into <paramref name="destination"/> (see <see cref="SafetensorsFile.ReadInto"/>).</summary>
    public void ReadInto(string name, torch.Tensor destination, XxHash128? hash = null) => FileOf(name).ReadInto(name, destination, hash);

    public void Dispose()
    {
        foreach (var s in _shards.Values) s.Dispose();
    }

    static CheckpointDirectory OpenSharded(string dir, JsonObject config, string indexPath)
    {
        var index = JsonFile.ReadObject(indexPath);
        if (index["weight_map"] is not JsonObject map)
            throw new MoePruneException($"{indexPath}: no \"weight_map\" object");
        var weightMap = new Dictionary<string, string>();
        var shardFiles = new List<string>();
        foreach (var (name, value) in map)
        {
            if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.String)
                throw new MoePruneException($"{indexPath}: weight_map entry \"{name}\" is not a file name string");
            string file = v.GetValue<string>();
            if (file.Length == 0 || file != Path.GetFileName(file) || file is "." or "..")
                throw new MoePruneException($"{indexPath}: weight_map entry \"{name}\" names \"{file}\", which is not a plain file name");
            weightMap[name] = file;
            if (!shardFiles.Contains(file)) shardFiles.Add(file);
        }
        if (weightMap.Count == 0)
            throw new MoePruneException($"{indexPath}: weight_map is empty");
        var missing = shardFiles.Where(f => !File.Exists(Path.Combine(dir, f))).ToList();
        if (missing.Count > 0)
            throw new MoePruneException(
                $"{indexPath}: {missing.Count} shard file(s) named by the index are missing: {MoePruneException.Summarize(missing)}", missing);
        return OpenShards(dir, config, shardFiles, weightMap);
    }

    static CheckpointDirectory OpenShards(string dir, JsonObject config, List<string> shardFiles, Dictionary<string, string>? weightMap)
    {
        var shards = new Dictionary<string, SafetensorsFile>();
        try
        {
            foreach (var file in shardFiles)
                shards[file] = SafetensorsFile.Open(Path.Combine(dir, file));
            CheckConsistency(dir, shardFiles, shards, weightMap);
            return new CheckpointDirectory(dir, config, shardFiles, shards);
        }
        catch
        {
            foreach (var s in shards.Values) s.Dispose();
            throw;
        }
    }

    /// <summary>Each tensor lives in exactly one shard, and (sharded) exactly where the index says.</summary>
    static void CheckConsistency(string dir, List<string> shardFiles, Dictionary<string, SafetensorsFile> shards,
                                 Dictionary<string, string>? weightMap)
    {
        var owner = new Dictionary<string, string>();
        var duplicates = new List<string>();
        foreach (var file in shardFiles)
            foreach (var name in shards[file].Tensors.Keys)
                if (!owner.TryAdd(name, file)) duplicates.Add($"{name} ({owner[name]}, {file})");
        if (duplicates.Count > 0)
            throw new MoePruneException(
                $"{dir}: {duplicates.Count} tensor(s) stored in more than one shard: {MoePruneException.Summarize(duplicates)}", duplicates);
        if (weightMap is null) return;

        string indexPath = Path.Combine(dir, IndexFile);
        var notInShard = weightMap.Where(kv => !shards[kv.Value].Tensors.ContainsKey(kv.Key))
                                  .Select(kv => $"{kv.Key} ({kv.Value})").ToList();
        if (notInShard.Count > 0)
            throw new MoePruneException(
                $"{indexPath}: {notInShard.Count} tensor(s) listed in the index are missing from their shard: {MoePruneException.Summarize(notInShard)}",
                notInShard);
        var unlisted = owner.Where(kv => !weightMap.ContainsKey(kv.Key)).Select(kv => $"{kv.Key} ({kv.Value})").ToList();
        if (unlisted.Count > 0)
            throw new MoePruneException(
                $"{indexPath}: {unlisted.Count} tensor(s) stored in shards are not listed in the index: {MoePruneException.Summarize(unlisted)}",
                unlisted);
    }
}
