using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace MoePrune.Native;

/// <summary>
/// Loads TorchSharp's native backend, first making the build-output copy of <c>libLibTorchSharp.so</c>
/// loadable on older libstdc++ (see <see cref="GlibcxxPatcher"/>). Call <see cref="EnsureLoaded"/>
/// before the first use of <c>torch</c>; the library's module initializer does so. Errors name the
/// library and what is missing instead of TorchSharp's generic "doesn't contain a reference" message.
/// </summary>
public static class TorchNative
{
    static readonly object Gate = new();
    static bool _loaded;

    /// <summary>What happened at load time: the library path and the patch decision (for `info` and tests).</summary>
    public static string? LibraryPath { get; private set; }
    public static GlibcxxPatcher.Plan? LastPlan { get; private set; }

    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded) return;
            if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
                PrepareLinux();
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is not MoePruneException)
            {
                string? why = LibraryPath is null ? null : TryLoadError(LibraryPath);
                throw new MoePruneException(
                    $"{LibraryPath ?? "libLibTorchSharp.so"}: TorchSharp's native library failed to load" +
                    (why is null ? $" ({FirstLine(e.Message)})" : $": {why}"), inner: e);
            }
            _loaded = true;
        }
    }

    static void PrepareLinux()
    {
        string? lib = FindLibTorchSharp();
        if (lib is null) return; // let TorchSharp report its own search
        LibraryPath = lib;
        if (IsInsideNuGetCache(lib))
            throw new MoePruneException($"{lib}: refusing to patch a library inside the NuGet cache; " +
                                        "run MoePrune from its build output, which holds its own copy");

        string? stdcxx = FindLoadedLibStdCxx();
        if (stdcxx is null) return;
        var provided = ElfVersionInfo.Read(stdcxx).Defined;
        var info = ElfVersionInfo.Read(lib);
        var plan = GlibcxxPatcher.Decide(info, provided.ToHashSet());
        LastPlan = plan;
        if (plan.Decision != PatchDecision.Patch) return;

        // One process patches; others wait on the lock and then see an already-patched file.
        using var lockFile = AcquireLock(lib + ".moeprune-lock");
        var fresh = GlibcxxPatcher.Decide(ElfVersionInfo.Read(lib), provided.ToHashSet());
        if (fresh.Decision == PatchDecision.Patch)
        {
            try
            {
                GlibcxxPatcher.WriteWeakened(lib, lib, fresh.Missing);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new MoePruneException($"{lib}: cannot write the patched copy ({e.Message}); " +
                                            "the build output directory must be writable on first use");
            }
        }
    }

    /// <summary>The libLibTorchSharp.so that the runtime will load for TorchSharp.dll.</summary>
    public static string? FindLibTorchSharp()
    {
        string dir = Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? AppContext.BaseDirectory;
        foreach (var candidate in new[]
                 {
                     Path.Combine(dir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
                     Path.Combine(dir, "libLibTorchSharp.so"),
                 })
            if (File.Exists(candidate)) return candidate;
        return null;
    }

    /// <summary>The libstdc++ this process uses (the .NET runtime itself links it), from /proc/self/maps.</summary>
    public static string? FindLoadedLibStdCxx()
    {
        NativeLibrary.TryLoad("libstdc++.so.6", out _);
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/');
            if (slash < 0) continue;
            string path = line[slash..].Trim();
            if (Path.GetFileName(path).StartsWith("libstdc++.so", StringComparison.Ordinal)) return path;
        }
        return null;
    }

    static bool IsInsideNuGetCache(string path)
    {
        string? custom = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        string home = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string full = Path.GetFullPath(path);
        return full.StartsWith(Path.GetFullPath(home) + "/", StringComparison.Ordinal)
               || (custom is not null && full.StartsWith(Path.GetFullPath(custom).TrimEnd('/') + "/", StringComparison.Ordinal));
    }

    static FileStream AcquireLock(string path)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 600)
            {
                Thread.Sleep(100);
            }
        }
    }

    /// <summary>dlopen's own explanation (e.g. a missing GLIBCXX version), or null if the library loads.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    static string? TryLoadError(string path)
    {
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(path));
            return null;
        }
        catch (DllNotFoundException e)
        {
            return FirstLine(e.Message);
        }
    }

    static string FirstLine(string s) => s.Split('\n', 2)[0].Trim();
}
