namespace MoePrune.Native;

/// <summary>What <see cref="GlibcxxPatcher.Plan"/> decided for one library.</summary>
public enum PatchDecision
{
    /// <summary>Every version the library needs from libstdc++ is provided: nothing to do.</summary>
    NotNeeded,
    /// <summary>The missing versions are already marked weak (patched earlier).</summary>
    AlreadyPatched,
    /// <summary>Only marker-symbol versions are missing: mark them weak.</summary>
    Patch,
}

/// <summary>
/// Makes TorchSharp's <c>libLibTorchSharp.so</c> load on distributions whose libstdc++ is older than
/// the one it was linked against (Debian 12 ships GLIBCXX_3.4.30; the library asks for 3.4.32 only for
/// the marker symbol <c>std::ios_base_library_init</c>, which nothing calls). Marking that version
/// requirement WEAK (<c>vna_flags |= VER_FLG_WEAK</c> in <c>.gnu.version_r</c>) lets the dynamic loader
/// accept the library; real symbols keep their strict version checks.
/// </summary>
public static class GlibcxxPatcher
{
    /// <summary>Missing versions may be weakened only if every symbol bound to them is one of these markers.</summary>
    public static readonly IReadOnlySet<string> MarkerSymbols = new HashSet<string>
    {
        "_ZSt21ios_base_library_initv", // std::ios_base_library_init(), GCC 13's iostream-init marker
    };

    public sealed record Plan(PatchDecision Decision, IReadOnlyList<VersionNeed> Missing, string Reason);

    /// <summary>Decides what to do for <paramref name="library"/> given the versions <paramref name="provided"/> by libstdc++.</summary>
    public static Plan Decide(ElfVersionInfo library, IReadOnlyCollection<string> provided)
    {
        var have = provided as IReadOnlySet<string> ?? provided.ToHashSet();
        var missing = library.Needed
            .Where(n => n.File.StartsWith("libstdc++", StringComparison.Ordinal) && !have.Contains(n.Version))
            .ToList();
        if (missing.Count == 0)
            return new Plan(PatchDecision.NotNeeded, missing, "libstdc++ provides every version the library needs");
        foreach (var m in missing)
        {
            var users = library.SymbolsUsing(m.Index);
            var real = users.Where(s => !MarkerSymbols.Contains(s)).ToList();
            if (real.Count > 0)
                throw new MoePruneException(
                    $"{library.Path}: needs {m.Version} from {m.File} for {string.Join(", ", real.Take(5))}" +
                    $"{(real.Count > 5 ? $" and {real.Count - 5} more" : "")}, which this system's libstdc++ " +
                    "does not provide; install a newer libstdc++6 (GCC 13 or later)");
        }
        if (missing.All(m => m.IsWeak))
            return new Plan(PatchDecision.AlreadyPatched, missing, "the missing marker versions are already weak");
        return new Plan(PatchDecision.Patch, missing,
            $"libstdc++ lacks {string.Join(", ", missing.Select(m => m.Version))}, used only by marker symbols");
    }

    /// <summary>
    /// Writes a copy of <paramref name="source"/> to <paramref name="destination"/> with the given version
    /// requirements marked weak. The copy is written under a temporary name and renamed into place.
    /// </summary>
    public static void WriteWeakened(string source, string destination, IEnumerable<VersionNeed> needs)
    {
        byte[] bytes = File.ReadAllBytes(source);
        foreach (var n in needs)
        {
            int flags = bytes[n.FlagsOffset] | (bytes[n.FlagsOffset + 1] << 8);
            flags |= VersionNeed.WeakFlag;
            bytes[n.FlagsOffset] = (byte)(flags & 0xff);
            bytes[n.FlagsOffset + 1] = (byte)(flags >> 8);
        }
        IO.AtomicFile.WriteBytes(destination, bytes, OperatingSystem.IsWindows() ? null : File.GetUnixFileMode(source));
    }
}
