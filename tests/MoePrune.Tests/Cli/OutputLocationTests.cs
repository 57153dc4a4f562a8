using System.Diagnostics;
using MoePrune.IO;
using MoePrune.Tests.IO;
using MoePrune.Tests.Jobs;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Cli;

/// <summary>
/// Issue 17, item 1 and the one output rule: an unwritable, full or wrong-kind output location is refused BEFORE
/// the long work with one line naming the user's path (never a temporary one), exit 1, nothing left behind; an
/// existing output is refused unless --force, by every command that writes.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class OutputLocationTests(ITestOutputHelper output)
{
    /// <summary>Calibration that fails only when the pass starts (500 sequences from 30 short documents).</summary>
    static string[] LateFailingCalibration(string tokens) => ["--calib", $"tokens:{tokens}", "--calib-sequences", "500", "--calib-seq-len", "64"];

    /// <summary>/sys refuses new files even to root (sysfs), unlike a chmod 555 folder.</summary>
    const string ReadOnlyFolder = "/sys";

    [Fact]
    public void ReadOnlyOutputFolderIsRefusedBeforeCalibration()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["a.txt"], 30);
        string prunedOut = Path.Combine(ReadOnlyFolder, "moeprune-pruned"), scoresOut = Path.Combine(ReadOnlyFolder, "moeprune-scores.json");
        Refusal.Assert1(JobSupport.CliOutput(["prune", model, "--criterion", "min-ean", "--drop", "2", "--out", prunedOut, .. LateFailingCalibration(tokens)]),
            $"{prunedOut}: cannot write in {ReadOnlyFolder}: permission denied", output, prunedOut);
        Refusal.Assert1(JobSupport.CliOutput(["score", model, "--criteria", "min-ean", "--out", scoresOut, .. LateFailingCalibration(tokens)]),
            $"{scoresOut}: cannot write in {ReadOnlyFolder}: permission denied", output, scoresOut);
        Refusal.Assert1(JobSupport.CliOutput(["score", model, "--criteria", "min-ean", "--out", tmp["s.json"], "--save-stats", scoresOut, .. LateFailingCalibration(tokens)]),
            $"{scoresOut}: cannot write in {ReadOnlyFolder}", output, tmp["s.json"]);
    }

    [Fact]
    public void ScoreOutNamingAFolderIsRefused()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["a.txt"], 30);
        Directory.CreateDirectory(tmp["folder"]);
        Refusal.Assert1(JobSupport.CliOutput(["score", model, "--criteria", "min-ean", "--out", tmp["folder"], .. LateFailingCalibration(tokens)]),
            $"{tmp["folder"]}: is a directory", output);
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp["folder"]));
        File.WriteAllText(tmp["file"], "x");
        Refusal.Assert1(JobSupport.CliOutput("make-tiny", "mixtral", "--out", tmp["file"], "--force"), $"{tmp["file"]}: is a file", output);
        Refusal.Assert1(JobSupport.CliOutput("make-tiny", "mixtral", "--out", tmp["no/such/folder"]), $"{tmp["no/such/folder"]}: the folder", output, tmp["no"]);
        Refusal.NoTemporaries(tmp.Path);
    }

    /// <summary>
    /// A full disk: a 64 KiB tmpfs (needs mount rights, which the test machine's root has) takes the probe but not
    /// the models (over 200 KiB). Where mounting is not allowed the same failure is injected into the writer instead.
    /// </summary>
    [Fact]
    public void FullDiskIsOneLineNamingTheOutputAndLeavesNothing()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["a.txt"], 30);
        string disk = tmp["disk"];
        Directory.CreateDirectory(disk);
        if (Mount(disk))
        {
            try
            {
                string pruned = Path.Combine(disk, "pruned"), gguf = Path.Combine(disk, "model.gguf");
                Refusal.Assert1(JobSupport.CliOutput("prune", model, "--criterion", "min-ean", "--drop", "2", "--out", pruned,
                        "--calib", $"tokens:{tokens}", "--calib-sequences", "4", "--calib-seq-len", "12"),
                    $"{pruned}: no space left on device", output, pruned);
                Refusal.Assert1(JobSupport.CliOutput("make-tiny", "mixtral", "--out", Path.Combine(disk, "tiny")),
                    $"{Path.Combine(disk, "tiny")}: no space left on device", output);
                Refusal.NoTemporaries(disk);
                Assert.Empty(Directory.EnumerateFileSystemEntries(disk));
            }
            finally { Run("umount", disk); }
        }
        else output.WriteLine("tmpfs mount not permitted here: injecting ENOSPC into the writer only");

        // the writer's translation on its own: an ENOSPC IOException raised mid-write names the target, not the temporary
        string target = tmp["out"];
        var e = Assert.Throws<OutputWriteException>(() => AtomicDirectory.Create(target, staging =>
        {
            File.WriteAllText(Path.Combine(staging, "part"), "x");
            throw new IOException($"No space left on device : '{Path.Combine(staging, "part")}'", 28);
        }));
        output.WriteLine(e.Message);
        Assert.Equal($"{target}: no space left on device", e.Message);
        Assert.False(Directory.Exists(target));
        Refusal.NoTemporaries(tmp.Path);
    }

    static bool Mount(string dir) => Run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir) == 0;

    static int Run(string file, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            p.WaitForExit();
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception) { return -1; }
    }

    /// <summary>Every command that writes refuses an existing output without --force and replaces it with --force.</summary>
    [Fact]
    public void ExistingOutputIsRefusedUnlessForceForEveryWritingCommand()
    {
        using var tmp = new TempDir();
        var model = JobSupport.WriteModel(tmp["m"]);
        var tokens = JobSupport.WriteTokens(tmp["a.txt"], 30);
        string[] calib = ["--calib", $"tokens:{tokens}", "--calib-sequences", "4", "--calib-seq-len", "12"];
        File.WriteAllText(tmp["corpus.txt"], string.Join("\n", Enumerable.Repeat("the quick brown fox jumps over the lazy dog", 50)));
        var commands = new (string Out, string[] Args)[]
        {
            (tmp["scores.json"], ["score", model, "--criteria", "min-ean", .. calib]),
            (tmp["pruned"], ["prune", model, "--criterion", "min-ean", "--drop", "2", "--no-eval", .. calib]),
            (tmp["tiny"], ["make-tiny", "mixtral"]),
            (tmp["tok"], ["train-tokenizer", "--text-file", tmp["corpus.txt"], "--vocab-size", "300"]),
        };
        foreach (var (outPath, args) in commands)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
            if (Path.HasExtension(outPath)) File.WriteAllText(outPath, "old"); else { Directory.CreateDirectory(outPath); File.WriteAllText(Path.Combine(outPath, "old"), "old"); }
            Refusal.Assert1(JobSupport.CliOutput([.. args, "--out", outPath]), $"{outPath}: ", output);
            Assert.True(File.Exists(outPath) ? File.ReadAllText(outPath) == "old" : File.Exists(Path.Combine(outPath, "old")), $"{outPath} changed");
            var forced = JobSupport.CliOutput([.. args, "--out", outPath, "--force", "--json"]);
            Assert.True(forced.Code == 0, forced.Err);
            Assert.True(File.Exists(outPath) ? File.ReadAllText(outPath) != "old" : !File.Exists(Path.Combine(outPath, "old")), $"{outPath} not replaced");
        }
        Refusal.NoTemporaries(tmp.Path);
    }
}
