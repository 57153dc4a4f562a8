using MoePrune.Native;
using Xunit;

namespace MoePrune.Tests.Native;

public sealed class MallocTuningTests
{
    [Fact]
    public void ThresholdsAreSetOnLinuxAtLibraryLoad()
    {
        TorchNative.EnsureLoaded();
        // glibc's mallopt returns 1 on success; on this Linux/glibc machine both calls must have succeeded.
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("MOEPRUNE_MALLOC_TUNING") != "0")
            Assert.True(MallocTuning.Applied);
        // glibc refuses an mmap threshold above its maximum (32 MiB on 64-bit): the chosen value is the largest accepted.
        Assert.Equal(32 << 20, MallocTuning.MmapThreshold);
    }
}
