using MoePrune.Layerwise;
using MoePrune.Tests.IO;
using Xunit;

namespace MoePrune.Tests.Layerwise;

/// <summary>Sizes as users write them, and the memory available under cgroup v1, v2 and hybrid hierarchies (fake /proc and /sys/fs/cgroup trees).</summary>
public class MemoryBudgetTests
{
    [Theory]
    [InlineData("2000000000", 2000000000L)]
    [InlineData("64G", 64L << 30)]
    [InlineData("64GiB", 64L << 30)]
    [InlineData("512mb", 512L << 20)]
    [InlineData("1.5T", 3L << 39)]
    [InlineData("4k", 4096L)]
    public void ParsesSizes(string text, long bytes) => Assert.Equal(bytes, MemoryBudget.Parse(text, "--memory-budget"));

    [Theory]
    [InlineData("")]
    [InlineData("G")]
    [InlineData("-1G")]
    [InlineData("0")]
    [InlineData("12X")]
    [InlineData("1e30T")]
    public void RefusesBadSizes(string text) =>
        Assert.StartsWith($"--memory-budget {text}:", Assert.Throws<MoePruneException>(() => MemoryBudget.Parse(text, "--memory-budget")).Message);

    static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    [Fact]
    public void TheTightestOfMemAvailableAndEveryCgroupLimitWins()
    {
        using var tmp = new TempDir();
        string proc = tmp["proc"], cg = tmp["cg"];
        Write(Path.Combine(proc, "meminfo"), "MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n");
        Write(Path.Combine(proc, "self", "cgroup"), "0::/\n");
        Assert.Equal((20000000L * 1024, "MemAvailable"), MemoryBudget.Available(proc, cg));

        // cgroup v1 (hybrid: v2 beside it under unified/): a job cgroup with 4 GiB, 1 GiB used of which 256 MiB inactive cache
        Write(Path.Combine(proc, "self", "cgroup"), "4:memory:/jobs/a\n0::/\n");
        string v1 = Path.Combine(cg, "memory", "jobs", "a");
        Write(Path.Combine(v1, "memory.limit_in_bytes"), $"{4L << 30}\n");
        Write(Path.Combine(v1, "memory.usage_in_bytes"), $"{1L << 30}\n");
        Write(Path.Combine(v1, "memory.stat"), $"cache 5\ntotal_inactive_file {256L << 20}\n");
        Write(Path.Combine(cg, "memory", "memory.limit_in_bytes"), "9223372036854771712\n");   // v1's "no limit"
        Write(Path.Combine(cg, "memory", "memory.usage_in_bytes"), "1\n");
        Directory.CreateDirectory(Path.Combine(cg, "unified"));
        var (bytes, source) = MemoryBudget.Available(proc, cg);
        Assert.Equal((4L << 30) - (1L << 30) + (256L << 20), bytes);
        Assert.Equal($"cgroup {v1}", source);

        // a parent with a tighter limit wins
        Write(Path.Combine(cg, "memory", "jobs", "memory.limit_in_bytes"), $"{2L << 30}\n");
        Write(Path.Combine(cg, "memory", "jobs", "memory.usage_in_bytes"), $"{1L << 30}\n");
        Assert.Equal(1L << 30, MemoryBudget.Available(proc, cg).Bytes);

        // cgroup v2 unified at the root: memory.max / memory.current / inactive_file
        string v2root = tmp["cg2"];
        Write(Path.Combine(v2root, "cgroup.controllers"), "memory\n");
        Write(Path.Combine(proc, "self", "cgroup"), "0::/user.slice/job\n");
        string v2 = Path.Combine(v2root, "user.slice", "job");
        Write(Path.Combine(v2, "memory.max"), $"{3L << 30}\n");
        Write(Path.Combine(v2, "memory.current"), $"{2L << 30}\n");
        Write(Path.Combine(v2, "memory.stat"), $"anon 1\ninactive_file {1L << 29}\n");
        Write(Path.Combine(v2root, "user.slice", "memory.max"), "max\n");
        Write(Path.Combine(v2root, "user.slice", "memory.current"), "7\n");
        Assert.Equal(((3L << 30) - (2L << 30) + (1L << 29), $"cgroup {v2}"), MemoryBudget.Available(proc, v2root));
    }
}
