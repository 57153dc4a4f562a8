using System.Text.Json.Nodes;
using MoePrune.IO;
using TorchSharp;
using Xunit;

namespace MoePrune.Tests.IO;

/// <summary>Opening model directories: both layouts, and every broken input failing with the file named.</summary>
public class CheckpointDirectoryTests
{
    const string Shard1 = "model-00001-of-00002.safetensors";
    const string Shard2 = "model-00002-of-00002.safetensors";
    static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "fixtures", "safetensors", "sharded");

    /// <summary>A writable copy of the committed sharded fixture.</summary>
    static string CopyFixture(TempDir dir)
    {
        string copy = dir["model"];
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(Fixture)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        return copy;
    }

    static MoePruneException OpenFails(string dir, string namedFile)
    {
        var e = Assert.Throws<MoePruneException>(() => CheckpointDirectory.Open(dir));
        Assert.StartsWith(namedFile + ":", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    static void EditIndex(string dir, Action<JsonObject> edit)
    {
        string path = Path.Combine(dir, CheckpointDirectory.IndexFile);
        var index = JsonFile.ReadObject(path);
        edit(index["weight_map"]!.AsObject());
        JsonFile.WriteAtomic(path, index);
    }

    [Fact]
    public void OpensSingleFileDirectory()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["config.json"], """{"model_type": "x", "b": 1, "a": 2}""");
        RawSafetensors.Write(dir, "model.safetensors", """{"w":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}""",
                             [1, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF]);
        using var ckpt = CheckpointDirectory.Open(dir.Path);
        Assert.Equal(["model.safetensors"], ckpt.ShardFiles);
        Assert.Equal(8, ckpt.TotalBytes);
        Assert.Equal(["model_type", "b", "a"], ckpt.Config.Select(kv => kv.Key));
        using var w = ckpt.Read("w");
        Assert.Equal([1, -2], w.data<int>().ToArray());
        using var dest = torch.zeros(2, dtype: torch.ScalarType.Int64);
        ckpt.ReadInto("w", dest);
        Assert.Equal([1L, -2L], dest.data<long>().ToArray());
        var e = Assert.Throws<MoePruneException>(() => ckpt.Read("nope"));
        Assert.Contains("no tensor named \"nope\"", e.Message);
    }

    [Fact]
    public void MissingDirectoryConfigOrWeights()
    {
        using var dir = new TempDir();
        string missing = dir["absent"];
        Assert.Contains("model directory does not exist", OpenFails(missing, missing).Message);

        string model = CopyFixture(dir);
        string config = Path.Combine(model, "config.json");
        File.Delete(config);
        Assert.Contains("file not found", OpenFails(model, config).Message);

        File.WriteAllText(config, "{\n  \"a\": 1,\n  \"b\": oops\n}");
        var e = OpenFails(model, config);
        Assert.Contains("not valid JSON (line 3, column 8:", e.Message);

        File.WriteAllText(config, "[1, 2]");
        Assert.Contains("expected a JSON object, found an array", OpenFails(model, config).Message);

        File.WriteAllText(config, "{}");
        foreach (var f in Directory.GetFiles(model, "model*")) File.Delete(f);
        Assert.Contains("neither model.safetensors nor model.safetensors.index.json", OpenFails(model, model).Message);
    }

    [Fact]
    public void IndexNamingAMissingShard()
    {
        using var dir = new TempDir();
        string model = CopyFixture(dir);
        File.Delete(Path.Combine(model, Shard2));
        var e = OpenFails(model, Path.Combine(model, CheckpointDirectory.IndexFile));
        Assert.Contains($"1 shard file(s) named by the index are missing: {Shard2}", e.Message);
    }

    [Fact]
    public void TruncatedShard()
    {
        using var dir = new TempDir();
        string model = CopyFixture(dir);
        string shard = Path.Combine(model, Shard1);
        var bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..^5]);
        Assert.Contains("file truncated?", OpenFails(model, shard).Message);
    }

    [Fact]
    public void HeaderLengthBeyondTheShard()
    {
        using var dir = new TempDir();
        string model = CopyFixture(dir);
        string shard = Path.Combine(model, Shard2);
        var bytes = File.ReadAllBytes(shard);
        bytes[0] = 0xFF; bytes[1] = 0xFF;                                        // 65535 + low bits > file size
        File.WriteAllBytes(shard, bytes);
        Assert.Contains($"exceeds the file size {bytes.Length}", OpenFails(model, shard).Message);
    }

    [Fact]
    public void InvalidHeaderJsonInAShard()
    {
        using var dir = new TempDir();
        string model = CopyFixture(dir);
        string shard = Path.Combine(model, Shard1);
        var bytes = File.ReadAllBytes(shard);
        bytes[8] = (byte)'[';                                                     // "{" → "[" breaks the JSON
        File.WriteAllBytes(shard, bytes);
        Assert.Contains("header is not valid JSON", OpenFails(model, shard).Message);
    }

    [Theory]
    [InlineData("""{"model.norm.weight":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]},"model.layers.0.self_attn.rotary.inv_freq":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", "overlap")]
    [InlineData("""{"model.norm.weight":{"dtype":"BF16","shape":[5],"data_offsets":[0,8]},"model.layers.0.self_attn.rotary.inv_freq":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", "byte length 8 does not match shape [5] x BF16 (10 bytes)")]
    [InlineData("""{"model.norm.weight":{"dtype":"B16","shape":[4],"data_offsets":[0,8]},"model.layers.0.self_attn.rotary.inv_freq":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", "unknown dtype \"B16\"")]
    public void BadShardHeader(string header, string expected)
    {
        using var dir = new TempDir();
        string model = CopyFixture(dir);
        string shard = Path.Combine(model, Shard2);
        RawSafetensors.Write(dir, Path.Combine("model", Shard2), header, new byte[16]);
        Assert.Contains(expected, OpenFails(model, shard).Message);
    }

    [Fact]
    public void IndexListsATensorMissingFromItsShard()
    {
        using var dir = new TempDir();
        string model = CopyFixture(dir);
        EditIndex(model, map => map["model.layers.9.mlp.gate.weight"] = Shard1);
        var e = OpenFails(model, Path.Combine(model, CheckpointDirectory.IndexFile));
        Assert.Contains("1 tensor(s) listed in the index are missing from their shard: model.layers.9.mlp.gate.weight", e.Message);
    }

    [Fact]
    public void IndexPointsToTheWrongShard()
    {
        using var dir = new TempDir();
        string model = CopyFixture(dir);
        EditIndex(model, map => map["model.norm.weight"] = Shard1);
        var e = OpenFails(model, Path.Combine(model, CheckpointDirectory.IndexFile));
        Assert.Contains($"missing from their shard: model.norm.weight ({Shard1})", e.Message);
    }

    [Fact]
    public void ShardTensorNotListedInTheIndex()
    {
        using var dir = new TempDir();
        string model = CopyFixture(dir);
        EditIndex(model, map => map.Remove("model.norm.weight"));
        var e = OpenFails(model, Path.Combine(model, CheckpointDirectory.IndexFile));
        Assert.Contains($"1 tensor(s) stored in shards are not listed in the index: model.norm.weight ({Shard2})", e.Message);
    }

    [Fact]
    public void ManyProblemsAreSummarizedOnOneLine()
    {
        using var dir = new TempDir();
        string model = CopyFixture(dir);
        var ghosts = Enumerable.Range(0, 7).Select(i => $"ghost.{i}").ToList();
        EditIndex(model, map => { foreach (var g in ghosts) map[g] = Shard2; });
        var e = OpenFails(model, Path.Combine(model, CheckpointDirectory.IndexFile));
        Assert.Contains("7 tensor(s) listed in the index are missing from their shard: ", e.Message);
        Assert.Contains($"ghost.4 ({Shard2}) and 2 more", e.Message);
        Assert.DoesNotContain("ghost.5", e.Message);
        Assert.Equal(7, e.Details.Count);
        Assert.Contains($"ghost.6 ({Shard2})", e.Details);
    }

    [Fact]
    public void IndexWithoutWeightMapEntries()
    {
        using var dir = new TempDir();
        string model = CopyFixture(dir);
        EditIndex(model, map => map.Clear());
        Assert.EndsWith("weight_map is empty", OpenFails(model, Path.Combine(model, CheckpointDirectory.IndexFile)).Message);
        File.WriteAllText(Path.Combine(model, CheckpointDirectory.IndexFile), "{\"metadata\": {}}");
        Assert.EndsWith("no \"weight_map\" object", OpenFails(model, Path.Combine(model, CheckpointDirectory.IndexFile)).Message);
    }

    [Fact]
    public void IndexShardNamesMustBePlainFileNames()
    {
        using var dir = new TempDir();
        string model = CopyFixture(dir);
        EditIndex(model, map => map["model.norm.weight"] = "../" + Shard2);
        var e = OpenFails(model, Path.Combine(model, CheckpointDirectory.IndexFile));
        Assert.Contains("not a plain file name", e.Message);
    }
}
