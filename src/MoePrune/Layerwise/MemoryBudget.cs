using System.Globalization;

namespace MoePrune.Layerwise;

/// <summary>
/// Memory sizes given by the user ("64G", "512MiB", "1.5T", "2000000000") and the memory this process may use:
/// the kernel's MemAvailable, lowered by every memory cgroup limit on the way from this process's cgroup to the root
/// (cgroup v2 <c>memory.max</c> − <c>memory.current</c>, v1 <c>memory.limit_in_bytes</c> − <c>memory.usage_in_bytes</c>;
/// the cgroup's inactive file cache counts as free, since the kernel reclaims it first).
/// </summary>
public static class MemoryBudget
{
    /// <summary>Parses a size: a number of bytes, optionally with K, M, G or T (powers of 1024; "B", "iB" accepted after them).</summary>
    public static long Parse(string text, string option)
    {
        var s = text.Trim();
        int end = s.Length;
        while (end > 0 && char.IsLetter(s[end - 1])) end--;
        string unit = s[end..].ToUpperInvariant();
        if (unit.EndsWith("IB", StringComparison.Ordinal)) unit = unit[..^2];
        else if (unit.Length > 1 && unit.EndsWith('B')) unit = unit[..^1];
        long factor = unit switch
        {
            "" or "B" => 1L,
            "K" => 1L << 10,
            "M" => 1L << 20,
            "G" => 1L << 30,
            "T" => 1L << 40,
            _ => 0,
        };
        if (factor == 0 || !double.TryParse(s[..end], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value <= 0 || double.IsInfinity(value))
            throw new MoePruneException($"{option} {text}: expected a positive size such as 64G, 512M or 2000000000 (bytes; K, M, G, T are powers of 1024)");
        double bytes = value * factor;
        if (bytes >= long.MaxValue) throw new MoePruneException($"{option} {text}: too large");
        return (long)bytes;
    }

    /// <summary>The bytes this process may still allocate, and what limits it ("MemAvailable" or a cgroup path).</summary>
    public static (long Bytes, string Source) Available() => Available("/proc", "/sys/fs/cgroup");

    /// <summary>As <see cref="Available()"/> with other roots for /proc and /sys/fs/cgroup (tests).</summary>
    public static (long Bytes, string Source) Available(string proc, string cgroupRoot)
    {
        long best = MemAvailable(Path.Combine(proc, "meminfo")) ?? long.MaxValue;
        string source = best == long.MaxValue ? "unknown" : "MemAvailable";
        foreach (var (dir, v2) in CgroupDirs(Path.Combine(proc, "self", "cgroup"), cgroupRoot))
        {
            long? free = v2 ? Free(dir, "memory.max", "memory.current", "inactive_file")
                            : Free(dir, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file");
            if (free is long f && f < best) (best, source) = (f, $"cgroup {dir}");
        }
        return (best, source);
    }

    /// <summary>The memory cgroup directories of this process and their ancestors (v2 first, then v1).</summary>
    private static IEnumerable<(string Dir, bool V2)> CgroupDirs(string selfCgroup, string root)
    {
        if (!File.Exists(selfCgroup)) yield break;
        foreach (var line in File.ReadAllLines(selfCgroup))
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3) continue;
            bool v2 = parts[0] == "0" && parts[1] == "";
            bool v1 = parts[1].Split(',').Contains("memory");
            if (!v2 && !v1) continue;
            // cgroup v2 is mounted at the root, or beside v1 controllers at root/unified (hybrid hierarchy)
            string mount = v1 ? Path.Combine(root, "memory")
                : File.Exists(Path.Combine(root, "cgroup.controllers")) ? root : Path.Combine(root, "unified");
            string relative = parts[2].TrimStart('/');
            while (true)
            {
                string dir = relative.Length == 0 ? mount : Path.Combine(mount, relative);
                if (Directory.Exists(dir)) yield return (dir, v2);
                if (relative.Length == 0) break;
                int slash = relative.LastIndexOf('/');
                relative = slash < 0 ? "" : relative[..slash];
            }
        }
    }

    /// <summary>limit − (usage − inactive file cache), or null when there is no limit.</summary>
    private static long? Free(string dir, string limitFile, string usageFile, string inactiveKey)
    {
        long? limit = ReadNumber(Path.Combine(dir, limitFile));
        long? usage = ReadNumber(Path.Combine(dir, usageFile));
        if (limit is not long l || usage is not long u || l >= (1L << 60)) return null;             // "max" or v1's huge "no limit"
        long inactive = StatValue(Path.Combine(dir, "memory.stat"), inactiveKey) ?? 0;
        return Math.Max(0, l - Math.Max(0, u - inactive));
    }

    private static long? ReadNumber(string path)
    {
        if (!File.Exists(path)) return null;
        var text = File.ReadAllText(path).Trim();
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : null;
    }

    private static long? StatValue(string path, string key)
    {
        if (!File.Exists(path)) return null;
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], CultureInfo.InvariantCulture, out long v)) return v;
        }
        return null;
    }

    private static long? MemAvailable(string meminfo)
    {
        if (!File.Exists(meminfo)) return null;
        foreach (var line in File.ReadLines(meminfo))
            if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.TryParse(parts[1], CultureInfo.InvariantCulture, out long kb) ? kb * 1024 : null;
            }
        return null;
    }
}
