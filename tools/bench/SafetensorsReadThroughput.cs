#:project ../../src/MoePrune/MoePrune.csproj
// One-off benchmark (not a test): write a ~1 GiB bf16 safetensors file to /tmp, then read every tensor
// back three ways and report MB/s and the peak-RSS growth (VmHWM) of each pass. Run once:
//     dotnet run tools/bench/SafetensorsReadThroughput.cs -c Release
// The file lives in the page cache after writing, so the numbers are warm-cache reads.
using System.Diagnostics;
using MoePrune.IO;
using MoePrune.Native;
using TorchSharp;

TorchNative.EnsureLoaded();
const int Count = 64, Rows = 4096, Cols = 2048;                       // 64 × 16 MiB = 1 GiB of bf16
string path = Path.Combine(Path.GetTempPath(), $"moeprune-bench-{Environment.ProcessId}.safetensors");
try
{
    using var sample = torch.randn(Rows, Cols).to(torch.ScalarType.BFloat16);  // (R, C) bf16, reused under every name
    var sw = Stopwatch.StartNew();
    SafetensorsWriter.Write(path, Enumerable.Range(0, Count).Select(i => KeyValuePair.Create($"layers.{i}.weight", sample)));
    double mb = new FileInfo(path).Length / 1e6;
    Console.WriteLine($"write: {mb:F0} MB in {sw.Elapsed.TotalSeconds:F2} s = {mb / sw.Elapsed.TotalSeconds:F0} MB/s (includes fsync)");

    using var file = SafetensorsFile.Open(path);
    Pass("Read (new bf16 tensor each)", () =>
    {
        foreach (var name in file.Tensors.Keys) { using var t = file.Read(name); }
    });
    using var bf16 = torch.empty([Rows, Cols], torch.ScalarType.BFloat16);
    Pass("ReadInto bf16 (direct to native memory)", () =>
    {
        foreach (var name in file.Tensors.Keys) file.ReadInto(name, bf16);
    });
    using var f32 = torch.empty([Rows, Cols], torch.ScalarType.Float32);
    Pass("ReadInto fp32 (bf16 -> fp32 conversion)", () =>
    {
        foreach (var name in file.Tensors.Keys) file.ReadInto(name, f32);
    });

    void Pass(string label, Action read)
    {
        ResetPeak();
        long before = Vm("VmHWM");
        var timer = Stopwatch.StartNew();
        read();
        double s = timer.Elapsed.TotalSeconds;
        Console.WriteLine($"{label}: {mb:F0} MB in {s:F2} s = {mb / s:F0} MB/s; peak RSS +{(Vm("VmHWM") - before) / 1024.0:F0} MB (VmHWM {Vm("VmHWM") / 1024.0:F0} MB)");
    }
}
finally
{
    File.Delete(path);
}

// Writing "5" to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
static void ResetPeak() => File.WriteAllText("/proc/self/clear_refs", "5");

static long Vm(string key) => long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(key + ":"))
    .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);          // kB
