using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit;

namespace MoePrune.Tests.Gguf;

/// <summary>
/// llama.cpp itself, as the reference for GGUF exports: tests/llamacpp/harness.mjs on node-llama-cpp 3.21.1
/// (prebuilt linux-x64 CPU binaries; installed with <c>npm ci --ignore-scripts</c>, never built). The package
/// is installed on first use under a file lock (CI installs it in .ci/run); where npm is missing or the
/// install fails, <see cref="LlamaCppFactAttribute"/> skips the test and says why.
/// </summary>
static class LlamaCppHarness
{
    public const string PinnedVersion = "3.21.1";
    static readonly Lazy<string?> Unavailable = new(Install);

    /// <summary>tests/llamacpp in the repository (found upwards from the test binaries).</summary>
    public static string Dir
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "tests", "llamacpp");
                if (File.Exists(Path.Combine(candidate, "harness.mjs"))) return candidate;
            }
            throw new InvalidOperationException("tests/llamacpp/harness.mjs not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Null when the harness can run; otherwise why not (the skip message).</summary>
    public static string? WhyUnavailable => Unavailable.Value;

    static bool Installed(string dir) =>
        File.Exists(Path.Combine(dir, "node_modules", "node-llama-cpp", "package.json"))
        && File.Exists(Path.Combine(dir, "node_modules", "@node-llama-cpp", "linux-x64", "package.json"));

    static string? Install()
    {
        string dir = Dir;
        if (Installed(dir)) return null;
        using var lockFile = Exclusive(Path.Combine(dir, ".npm-install.lock"));
        try
        {
            if (Installed(dir)) return null;
            var (code, output) = Run("npm", "ci --ignore-scripts --no-audit --no-fund --loglevel=error", dir, 600);
            if (code != 0)
                return $"llama.cpp checks skipped: 'npm ci' in {dir} failed (exit {code}; npm registry unreachable?): {Last(output)}";
            return Installed(dir) ? null : $"llama.cpp checks skipped: npm ci in {dir} did not install node-llama-cpp {PinnedVersion} for linux-x64";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"llama.cpp checks skipped: npm is not available ({e.Message}); install Node.js/npm to run them";
        }
    }

    /// <summary>Opens <paramref name="path"/> exclusively, waiting while another process holds it.</summary>
    static FileStream Exclusive(string path)
    {
        for (int attempt = 0; ; attempt++)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (attempt < 1200) { Thread.Sleep(500); }
        }
    }

    /// <summary>Runs the harness on <paramref name="request"/> (see harness.mjs) and returns its result.</summary>
    public static JsonObject Run(JsonObject request, string workDir)
    {
        string req = Path.Combine(workDir, $"request-{Guid.NewGuid():N}.json"), res = req.Replace("request-", "result-");
        File.WriteAllText(req, request.ToJsonString());
        var (code, output) = Run("node", $"harness.mjs \"{req}\" \"{res}\"", Dir, 600);
        if (code != 0) throw new InvalidOperationException($"llama.cpp harness failed (exit {code}): {output}");
        return JsonNode.Parse(File.ReadAllText(res))!.AsObject();
    }

    /// <summary>The probabilities [T, V] the harness wrote for request item <paramref name="index"/>.</summary>
    public static float[,] Probabilities(JsonObject result, int index)
    {
        var item = result["logprobs"]![index]!;
        int t = (int)item["positions"]!, v = (int)item["vocab"]!;
        var bytes = File.ReadAllBytes((string)item["file"]!);
        var probs = new float[t, v];
        Buffer.BlockCopy(bytes, 0, probs, 0, bytes.Length);
        return probs;
    }

    static (int Code, string Output) Run(string file, string args, string dir, int timeoutSeconds)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var proc = Process.Start(psi)!;
        var stdout = proc.StandardOutput.ReadToEndAsync();
        var stderr = proc.StandardError.ReadToEndAsync();
        if (!proc.WaitForExit(timeoutSeconds * 1000))
        {
            proc.Kill(entireProcessTree: true);
            return (-1, $"timed out after {timeoutSeconds} s");
        }
        return (proc.ExitCode, stdout.Result + stderr.Result);
    }

    static string Last(string text) => text.Length > 400 ? text[^400..] : text;
}

/// <summary>A fact that needs llama.cpp: skipped, with the reason, where node-llama-cpp cannot be installed.</summary>
public sealed class LlamaCppFactAttribute : FactAttribute
{
    public LlamaCppFactAttribute()
    {
        if (LlamaCppHarness.WhyUnavailable is string why) Skip = why;
    }
}
