using System.Text.Json;
using System.Text.Json.Nodes;
using MoePrune.IO;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.IO;

/// <summary>Exporting model directories: sharding, index, aux files, and all-or-nothing output.</summary>
public class CheckpointWriterTests(ITestOutputHelper output)
{
    static JsonObject Config() => new() { ["zeta"] = 1, ["model_type"] = "tiny", ["alpha"] = new JsonArray(1, 2), ["num_experts"] = 4 };

    /// <summary>Tensors of assorted dtypes and sizes (bytes: 4·n·k for fp32, 2·n·k for bf16 ...).</summary>
    static List<KeyValuePair<string, torch.Tensor>> Tensors(int count)
    {
        var list = new List<KeyValuePair<string, torch.Tensor>>();
        for (int i = 0; i < count; i++)
        {
            var dtype = (i % 3) switch { 0 => torch.ScalarType.Float32, 1 => torch.ScalarType.BFloat16, _ => torch.ScalarType.Int64 };
            var t = torch.arange(i * 10, i * 10 + 3 * (i + 1), dtype: torch.ScalarType.Float32).reshape(3, i + 1).to(dtype); // (3, i+1)
            list.Add(new($"model.layers.{i}.weight", t));
        }
        return list;
    }

    static void AssertSameTensors(List<KeyValuePair<string, torch.Tensor>> expected, CheckpointDirectory ckpt)
    {
        Assert.Equal(expected.Select(kv => kv.Key).Order(StringComparer.Ordinal), ckpt.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, t) in expected)
        {
            using var back = ckpt.Read(name);
            Assert.Equal(t.dtype, back.dtype);
            Assert.Equal(t.shape, back.shape);
            Assert.Equal(t.RawBytes(), back.RawBytes());
        }
    }

    [Fact]
    public void WritesASingleFileWhenEverythingFits()
    {
        using var dir = new TempDir();
        var tensors = Tensors(4);
        string outDir = dir["out"];
        CheckpointWriter.Write(outDir, Config(), tensors);
        Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(outDir).Select(Path.GetFileName).Order());
        string configText = File.ReadAllText(Path.Combine(outDir, "config.json"));
        Assert.EndsWith("}\n", configText);
        Assert.Equal(["zeta", "model_type", "alpha", "num_experts"], JsonNode.Parse(configText)!.AsObject().Select(kv => kv.Key));
        using var ckpt = CheckpointDirectory.Open(outDir);
        AssertSameTensors(tensors, ckpt);
        using var st = SafetensorsFile.Open(Path.Combine(outDir, "model.safetensors"));
        Assert.Equal("pt", st.Metadata["format"]);
    }

    [Fact]
    public void ShardsAtASmallMaximumWithACorrectIndex()
    {
        using var dir = new TempDir();
        var tensors = Tensors(9);
        long max = 100;
        string outDir = dir["out"];
        CheckpointWriter.Write(outDir, Config(), tensors, maxShardBytes: max);

        var shardFiles = Directory.GetFiles(outDir, "model-*.safetensors").Select(Path.GetFileName).Order().ToList();
        int n = shardFiles.Count;
        output.WriteLine($"{tensors.Count} tensors, max {max} bytes → {n} shards");
        Assert.True(n > 2);
        Assert.Equal(Enumerable.Range(1, n).Select(k => $"model-{k:D5}-of-{n:D5}.safetensors"), shardFiles);
        Assert.False(File.Exists(Path.Combine(outDir, "model.safetensors")));

        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, CheckpointDirectory.IndexFile)));
        long expectedTotal = tensors.Sum(kv => kv.Value.NumberOfElements * kv.Value.ElementSize);
        Assert.Equal(expectedTotal, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        Assert.Equal(weightMap.Keys.Order(StringComparer.Ordinal), weightMap.Keys);          // sorted like transformers

        var seen = new Dictionary<string, string>();                                          // every tensor in exactly one shard
        foreach (var file in shardFiles)
        {
            using var st = SafetensorsFile.Open(Path.Combine(outDir, file!));
            long bytes = st.Tensors.Values.Sum(e => e.Bytes);
            Assert.True(bytes <= max || st.Tensors.Count == 1, $"{file} holds {bytes} bytes in {st.Tensors.Count} tensors");
            Assert.Equal("pt", st.Metadata["format"]);
            foreach (var name in st.Tensors.Keys)
            {
                Assert.True(seen.TryAdd(name, file!), $"{name} is in two shards");
                Assert.Equal(file, weightMap[name]);
            }
        }
        Assert.Equal(tensors.Count, seen.Count);
        using var ckpt = CheckpointDirectory.Open(outDir);
        Assert.Equal(expectedTotal, ckpt.TotalBytes);
        AssertSameTensors(tensors, ckpt);
    }

    [Fact]
    public void ATensorLargerThanTheMaximumGetsItsOwnShard()
    {
        using var dir = new TempDir();
        using var small = torch.zeros(2);                                      // 8 bytes
        using var big = torch.zeros(100);                                      // 400 bytes
        CheckpointWriter.Write(dir["out"], Config(), [new("a", small), new("big", big), new("c", small)], maxShardBytes: 16);
        using var ckpt = CheckpointDirectory.Open(dir["out"]);
        Assert.Equal(3, ckpt.ShardFiles.Count);
        Assert.Equal("model-00002-of-00003.safetensors", ckpt.ShardOf("big"));
    }

    [Fact]
    public void ConsumesTensorsLazilyShardByShard()
    {
        using var dir = new TempDir();
        var made = new List<torch.Tensor>();
        var disposedWhenYielding = new List<int>();
        IEnumerable<KeyValuePair<string, torch.Tensor>> Lazy()
        {
            for (int i = 0; i < 8; i++)
            {
                disposedWhenYielding.Add(made.Count(t => t.IsInvalid));
                var t = torch.full(4, i, dtype: torch.ScalarType.Float32);      // 16 bytes, created on demand
                made.Add(t);
                yield return new($"t{i}", t);
            }
        }
        CheckpointWriter.Write(dir["out"], Config(), Lazy(), maxShardBytes: 32, disposeTensors: true);
        output.WriteLine("disposed tensors when each one was requested: " + string.Join(",", disposedWhenYielding));
        Assert.Equal([0, 0, 0, 2, 2, 4, 4, 6], disposedWhenYielding);            // two per shard, previous shards released
        Assert.All(made, t => Assert.True(t.IsInvalid));
        using var ckpt = CheckpointDirectory.Open(dir["out"]);
        Assert.Equal(4, ckpt.ShardFiles.Count);
        using var t7 = ckpt.Read("t7");
        Assert.Equal([7f, 7f, 7f, 7f], t7.data<float>().ToArray());
    }

    [Fact]
    public void AFailingExportLeavesNoOutputAndNoTemporaryDirectory()
    {
        using var dir = new TempDir();
        var made = new List<torch.Tensor>();
        IEnumerable<KeyValuePair<string, torch.Tensor>> Failing()
        {
            for (int i = 0; i < 5; i++)
            {
                made.Add(torch.ones(8));                                        // 32 bytes: two per 64-byte shard
                yield return new($"t{i}", made[^1]);
            }
            throw new InvalidOperationException("model export failed");
        }
        string outDir = dir["out"];
        var e = Assert.Throws<InvalidOperationException>(
            () => CheckpointWriter.Write(outDir, Config(), Failing(), maxShardBytes: 64, disposeTensors: true));
        Assert.Equal("model export failed", e.Message);
        Assert.False(Directory.Exists(outDir));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
        Assert.All(made, t => Assert.True(t.IsInvalid));                     // written and pending tensors released

        using var x = torch.ones(1);
        Assert.Throws<MoePruneException>(() => CheckpointWriter.Write(outDir, Config(), [new("x", x), new("x", x)]));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public void RefusesANonEmptyOutputButFillsAnEmptyOne()
    {
        using var dir = new TempDir();
        using var x = torch.ones(1);
        string outDir = dir["out"];
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "keep.txt"), "mine");
        var e = Assert.Throws<MoePruneException>(() => CheckpointWriter.Write(outDir, Config(), [new("x", x)]));
        Assert.Equal($"{outDir}: output directory exists and is not empty", e.Message);
        Assert.Equal(["keep.txt"], Directory.GetFiles(outDir).Select(Path.GetFileName));

        File.Delete(Path.Combine(outDir, "keep.txt"));
        CheckpointWriter.Write(outDir, Config(), [new("x", x)]);
        Assert.True(File.Exists(Path.Combine(outDir, "model.safetensors")));
        Assert.Equal(["out"], Directory.EnumerateFileSystemEntries(dir.Path).Select(Path.GetFileName));  // no temporary left
    }

    [Fact]
    public void CopiesTokenizerAndGenerationFiles()
    {
        using var dir = new TempDir();
        string source = dir["src"];
        Directory.CreateDirectory(source);
        var aux = new[] { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                          "chat_template.jinja", "tokenizer.model", "merges.txt", "vocab.json" };
        foreach (var f in aux) File.WriteAllBytes(Path.Combine(source, f), [.. System.Text.Encoding.UTF8.GetBytes(f), 0xFF, 0x00]);
        File.WriteAllText(Path.Combine(source, "model.safetensors"), "not copied");
        File.WriteAllText(Path.Combine(source, "README.md"), "not copied");
        File.WriteAllText(Path.Combine(source, "config.json"), "{\"old\": true}");

        using var x = torch.ones(1);
        string outDir = dir["out"];
        CheckpointWriter.Write(outDir, Config(), [new("x", x)], copyAuxFrom: source);
        var written = Directory.GetFiles(outDir).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(aux.Append("config.json").Append("model.safetensors").Order(), written);
        foreach (var f in aux)
            Assert.Equal(File.ReadAllBytes(Path.Combine(source, f)), File.ReadAllBytes(Path.Combine(outDir, f)));
        Assert.Equal("tiny", (string?)JsonFile.ReadObject(Path.Combine(outDir, "config.json"))["model_type"]);
    }
}
