using System.Runtime.InteropServices;
using MoePrune.Native;
using TorchSharp;
using Xunit;

namespace MoePrune.Tests.Native;

public class NativeLoadingTests
{
    const string Marker = "GLIBCXX_3.4.32";

    static string Lib => TorchNative.FindLibTorchSharp() ?? throw new InvalidOperationException("libLibTorchSharp.so not found");

    static IReadOnlyList<string> SystemVersions => ElfVersionInfo.Read(TorchNative.FindLoadedLibStdCxx()!).Defined;

    static string TempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "moeprune-native-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    [Fact]
    public void TorchWorksAfterEnsureLoaded()
    {
        TorchNative.EnsureLoaded();
        using var a = torch.ones(3, 4);
        Assert.Equal(12f, a.sum().item<float>());
        bool systemHasMarker = SystemVersions.Contains(Marker);
        var decision = TorchNative.LastPlan!.Decision;
        if (systemHasMarker) Assert.Equal(PatchDecision.NotNeeded, decision);
        else Assert.Contains(decision, new[] { PatchDecision.Patch, PatchDecision.AlreadyPatched });
    }

    [Fact]
    public void LibraryNeedsMarkerVersionOnlyForTheMarkerSymbol()
    {
        var info = ElfVersionInfo.Read(Lib);
        var need = Assert.Single(info.Needed, n => n.Version == Marker);
        Assert.Equal("libstdc++.so.6", need.File);
        Assert.Equal(new[] { "_ZSt21ios_base_library_initv" }, info.SymbolsUsing(need.Index));
    }

    [Fact]
    public void PatchIsSkippedWhereLibstdcxxProvidesTheVersion()
    {
        var info = ElfVersionInfo.Read(Lib);
        var provided = info.Needed.Where(n => n.File.StartsWith("libstdc++")).Select(n => n.Version).ToHashSet();
        Assert.Contains(Marker, provided);
        var plan = GlibcxxPatcher.Decide(info, provided);
        Assert.Equal(PatchDecision.NotNeeded, plan.Decision);
        Assert.Empty(plan.Missing);
    }

    [Fact]
    public void MissingVersionUsedByRealSymbolsIsAClearError()
    {
        var info = ElfVersionInfo.Read(Lib);
        // Pretend libstdc++ provides nothing newer than 3.4.21: real symbols then lack their versions.
        var provided = info.Needed.Select(n => n.Version)
            .Where(v => v.StartsWith("GLIBCXX_3.4.") && int.Parse(v["GLIBCXX_3.4.".Length..]) <= 21 || v.StartsWith("CXXABI")).ToHashSet();
        var e = Assert.Throws<MoePruneException>(() => GlibcxxPatcher.Decide(info, provided));
        Assert.Contains("libLibTorchSharp.so", e.Message);
        Assert.Contains("does not provide", e.Message);
    }

    [Fact]
    public void WeakenedCopyDiffersOnlyInTheFlagAndLoads()
    {
        TorchNative.EnsureLoaded(); // dependencies (libtorch, libc10) are then already mapped by soname
        string dir = TempDir();
        try
        {
            // An unpatched copy: restore the flag that the in-place patch may have set.
            string original = Path.Combine(dir, "original", "libLibTorchSharp.so");
            string patched = Path.Combine(dir, "patched", "libLibTorchSharp.so");
            Directory.CreateDirectory(Path.GetDirectoryName(original)!);
            Directory.CreateDirectory(Path.GetDirectoryName(patched)!);
            byte[] bytes = File.ReadAllBytes(Lib);
            var need = ElfVersionInfo.Read(Lib).Needed.Single(n => n.Version == Marker);
            bytes[need.FlagsOffset] &= unchecked((byte)~VersionNeed.WeakFlag);
            File.WriteAllBytes(original, bytes);

            var plan = GlibcxxPatcher.Decide(ElfVersionInfo.Read(original), new HashSet<string>(SystemVersions));
            if (SystemVersions.Contains(Marker))
            {
                Assert.Equal(PatchDecision.NotNeeded, plan.Decision);
                return;
            }
            Assert.Equal(PatchDecision.Patch, plan.Decision);
            Assert.Equal(Marker, Assert.Single(plan.Missing).Version);

            GlibcxxPatcher.WriteWeakened(original, patched, plan.Missing);
            byte[] a = File.ReadAllBytes(original), b = File.ReadAllBytes(patched);
            Assert.Equal(a.Length, b.Length);
            var diffs = Enumerable.Range(0, a.Length).Where(i => a[i] != b[i]).ToList();
            Assert.Equal(new[] { (int)need.FlagsOffset }, diffs);
            Assert.True(ElfVersionInfo.Read(patched).Needed.Single(n => n.Version == Marker).IsWeak);
            Assert.Equal(PatchDecision.AlreadyPatched,
                GlibcxxPatcher.Decide(ElfVersionInfo.Read(patched), new HashSet<string>(SystemVersions)).Decision);

            var failure = Assert.Throws<DllNotFoundException>(() => NativeLibrary.Load(original));
            Assert.Contains(Marker, failure.Message);
            var handle = NativeLibrary.Load(patched);
            Assert.NotEqual(IntPtr.Zero, handle);
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
