using MoePrune.IO;
using MoePrune.Models;
using static TorchSharp.torch;
using MoePrune.Native;

namespace MoePrune.Benchmarks;

/// <summary>Peak resident memory of loading a checkpoint (VmHWM after minus VmRSS before), relative to its size on disk.</summary>
public sealed record LoadMemoryResult(string Dir, int Shards, long DiskBytes, long RssBeforeBytes, long PeakBytes, double Seconds)
{
    public long DeltaBytes => PeakBytes - RssBeforeBytes;
    public double RatioToDisk => (double)DeltaBytes / DiskBytes;
}

/// <summary>One timed load: wall-clock and process CPU seconds.</summary>
public sealed record LoadTime(double WallSeconds, double CpuSeconds);

public static class LoadMemory
{
    /// <summary>Loads <paramref name="dir"/> in its own dtype and reports the peak RSS growth (Linux /proc/self/status).</summary>
    public static LoadMemoryResult Measure(string dir)
    {
        long disk;
        int shards;
        using (var checkpoint = CheckpointDirectory.Open(dir))
        {
            shards = checkpoint.ShardFiles.Count;
            disk = checkpoint.ShardFiles.Sum(f => new FileInfo(Path.Combine(dir, f)).Length);
        }
        GC.Collect();
        long before = StatusBytes("VmRSS");
        ResetPeak();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using (var model = ModelLoader.Load(dir))
        {
            double seconds = sw.Elapsed.TotalSeconds;
            return new LoadMemoryResult(dir, shards, disk, before, StatusBytes("VmHWM"), seconds);
        }
    }

    /// <summary>
    /// Wall and process CPU seconds of <paramref name="reps"/> pairs of loads of <paramref name="dir"/> in this process,
    /// with and without the value fingerprint (alternating which comes first), for the fingerprint's overhead.
    /// </summary>
    public static (LoadTime[] With, LoadTime[] Without) FingerprintOverhead(string dir, int reps)
    {
        var with = new LoadTime[reps];
        var without = new LoadTime[reps];
        for (int i = 0; i < reps; i++)
        {
            bool withFirst = i % 2 == 0;
            var first = TimeLoad(dir, withFirst);
            var second = TimeLoad(dir, !withFirst);
            (with[i], without[i]) = withFirst ? (first, second) : (second, first);
        }
        return (with, without);
    }

    private static LoadTime TimeLoad(string dir, bool fingerprint)
    {
        GC.Collect();
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using (ModelLoader.Load(dir, dtype: null, fingerprint))
        {
            double wall = sw.Elapsed.TotalSeconds;
            process.Refresh();
            return new LoadTime(wall, (process.TotalProcessorTime - cpu).TotalSeconds);
        }
    }

    /// <summary>Writing 5 to /proc/self/clear_refs resets VmHWM to the current RSS.</summary>
    private static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>A kB field of /proc/self/status, in bytes.</summary>
    public static long StatusBytes(string field)
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal))
                   ?? throw new MoePruneException($"/proc/self/status: no {field} (peak-memory measurement needs Linux)");
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]) * 1024;
    }

    /// <summary>
    /// A random bf16 Mixtral-style checkpoint of about <paramref name="gigabytes"/> GB in <paramref name="shards"/>
    /// shards (hidden 2048, 8 experts of 7168: ≈ 0.7 GB per layer), for <see cref="Measure"/>. The values are a
    /// constant (cheap to make; loading cost does not depend on them), or with <paramref name="seed"/> random
    /// (<see cref="Models.TinyCheckpoint.Randomize"/>: routing and scores that differ per expert, for runs that compare results).
    /// </summary>
    public static void WriteBigCheckpoint(string dir, double gigabytes, int shards, int? seed = null)
    {
        int layers = Math.Max(1, (int)Math.Ceiling(gigabytes * 1e9 / (8.0 * 3 * 2048 * 7168 * 2 + 4.0 * 2048 * 2048 * 2)));
        var json = Models.TinyCheckpoint.Config("mixtral", hidden: 2048, layers: layers, experts: 8, topK: 2, expertSize: 7168,
                                               vocab: 1024, dtype: ScalarType.BFloat16);
        using var model = new MoeForCausalLM(MoeConfig.Parse(json, "big benchmark config"));
        if (seed is int s) Models.TinyCheckpoint.Randomize(model, s);
        else
            using (no_grad())
                foreach (var p in model.parameters()) p.fill_(Scalars.Of(0.01));
        long total = model.parameters().Sum(p => p.numel() * 2);
        ModelLoader.Save(model, dir, maxShardBytes: total / shards + (1L << 26));
    }
}
