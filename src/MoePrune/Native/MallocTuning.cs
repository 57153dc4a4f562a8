using System.Runtime.InteropServices;

namespace MoePrune.Native;

/// <summary>
/// glibc's allocator serves blocks above its mmap threshold (128 KiB at start, raised only after such a block is
/// freed) with a fresh mmap each time, and freeing unmaps them: every new 1–4 MB activation then page-faults in
/// again. In a bf16 forward of the small benchmark layer that doubled the time (median 46 ms against 18 ms with the
/// allocator tuned, docs/BENCHMARKS.md). At startup MoePrune fixes the mmap threshold at 32 MiB (glibc's largest)
/// and keeps up to 256 MiB of freed memory for reuse. Blocks above 32 MiB (e.g. weights of real models) are still
/// mapped and unmapped on their own. Set <c>MOEPRUNE_MALLOC_TUNING=0</c> to leave the allocator alone.
/// </summary>
public static class MallocTuning
{
    public const int MmapThreshold = 32 << 20;
    public const int TrimThreshold = 256 << 20;
    const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int Mallopt(int param, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);

    /// <summary>
    /// Hands the allocator's free memory back to the system (glibc <c>malloc_trim(0)</c>; a no-op elsewhere). The
    /// layer-by-layer runner calls it after freeing each decoder layer, whose weights lie below the mmap threshold:
    /// otherwise the freed blocks can stay resident beside the next layer's.
    /// </summary>
    public static void Trim()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    /// <summary>True when the thresholds were set (Linux with glibc, not disabled by the environment).</summary>
    public static bool Applied { get; private set; }

    public static void Apply()
    {
        if (Applied || !OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MOEPRUNE_MALLOC_TUNING") == "0") return;
        try
        {
            Applied = Mallopt(M_MMAP_THRESHOLD, MmapThreshold) == 1 & Mallopt(M_TRIM_THRESHOLD, TrimThreshold) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }
}
