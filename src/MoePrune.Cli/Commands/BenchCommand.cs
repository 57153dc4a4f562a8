using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Benchmarks;
using MoePrune.Models;
using TorchSharp;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune bench forward|observers|load|make-checkpoint</c>: throughput of one decoder layer against the matmul
/// rate, the cost of an attached observer, and the peak memory of loading a checkpoint.
/// </summary>
public static class BenchCommand
{
    public static Command Create() => new("bench", "Benchmarks: layer forward throughput, observer overhead, load memory") { Forward(), Observers(), Load(), MakeCheckpoint() };

    private static Option<string> ShapeOption() => new("--shape") { Description = "mixtral-8x7b, default, small or all", DefaultValueFactory = _ => "all" };
    private static Option<int> TokensOption() => new("--tokens") { Description = "Tokens T per forward", DefaultValueFactory = _ => 1024 };
    private static Option<string> DtypesOption() => new("--dtype") { Description = "Dtype(s) the layer is held in, comma-separated: f32, bf16, f16", DefaultValueFactory = _ => "f32,bf16" };

    private static IEnumerable<LayerShape> Shapes(string value) => value == "all" ? LayerShape.All : [LayerShape.Parse(value)];

    private static IEnumerable<torch.ScalarType> Dtypes(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
             .Select(d => DtypeNames.ParseOption(d, "--dtype")!.Value);

    private static Command Forward()
    {
        var shape = ShapeOption();
        var tokens = TokensOption();
        var dtypes = DtypesOption();
        var reps = new Option<int>("--reps") { Description = "Timed forwards (median)", DefaultValueFactory = _ => 3 };
        var cmd = new Command("forward", "Tokens/s and GFLOP/s of one decoder layer, and the ratio to the matmul rate") { shape, tokens, dtypes, reps };
        cmd.SetAction(pr =>
        {
            bool json = pr.GetValue(GlobalOptions.Json);
            var results = new JsonArray();
            var shapes = Shapes(pr.GetValue(shape)!).ToList();                          // option errors before any output
            var types = Dtypes(pr.GetValue(dtypes)!).ToList();
            if (!json) Console.WriteLine($"threads {torch.get_num_threads()}, T = {pr.GetValue(tokens)}");
            foreach (var s in shapes)
                foreach (var dt in types)
                {
                    var r = ForwardBenchmark.Run(s, dt, pr.GetValue(tokens), pr.GetValue(reps));
                    results.Add(new JsonObject
                    {
                        ["shape"] = r.Shape, ["dtype"] = r.Dtype, ["tokens_per_s"] = Math.Round(r.TokensPerS, 1),
                        ["gflops"] = Math.Round(r.Gflops, 2), ["matmul_gflops"] = Math.Round(r.MatmulGflops, 2), ["ratio"] = Math.Round(r.Ratio, 3),
                    });
                    if (!json)
                        Console.WriteLine($"{r.Shape,-14} {r.Dtype,-9} {r.TokensPerS,10:F1} tokens/s {r.Gflops,8:F2} GFLOP/s  matmul {r.MatmulGflops,8:F2} GFLOP/s  ratio {r.Ratio:F3}");
                }
            if (json) CliRunner.PrintJson(new JsonObject { ["threads"] = torch.get_num_threads(), ["results"] = results });
            return 0;
        });
        return cmd;
    }

    private static Command Observers()
    {
        var shape = new Option<string>("--shape") { Description = "mixtral-8x7b, default or small", DefaultValueFactory = _ => "default" };
        var tokens = TokensOption();
        var dtypes = DtypesOption();
        var cmd = new Command("observers", "Layer tokens/s with no observer vs a no-op observer asking for nothing") { shape, tokens, dtypes };
        cmd.SetAction(pr =>
        {
            var results = new JsonArray();
            var s = LayerShape.Parse(pr.GetValue(shape)!);
            foreach (var dt in Dtypes(pr.GetValue(dtypes)!))
            {
                var (none, noOp) = ObserverOverhead.Measure(s, dt, pr.GetValue(tokens));
                results.Add(new JsonObject
                {
                    ["shape"] = s.Name, ["dtype"] = DtypeNames.ToConfigName(dt), ["tokens_per_s_none"] = Math.Round(none, 1),
                    ["tokens_per_s_noop_observer"] = Math.Round(noOp, 1), ["ratio"] = Math.Round(noOp / none, 3),
                });
                if (!pr.GetValue(GlobalOptions.Json))
                    Console.WriteLine($"{s.Name} {DtypeNames.ToConfigName(dt),-9} none {none,10:F1} tokens/s   no-op observer {noOp,10:F1} tokens/s   ratio {noOp / none:F3}");
            }
            if (pr.GetValue(GlobalOptions.Json)) CliRunner.PrintJson(new JsonObject { ["results"] = results });
            return 0;
        });
        return cmd;
    }

    private static Command Load()
    {
        var dir = ModelOptions.ModelDir();
        var reps = new Option<int>("--reps") { Description = "Then N pairs of timed loads with and without the value fingerprint (medians reported)", DefaultValueFactory = _ => 0 };
        var cmd = new Command("load", "Peak RSS growth (VmHWM − VmRSS before) of loading a checkpoint, relative to its size on disk") { dir, reps };
        cmd.SetAction(pr =>
        {
            string modelDir = pr.Model(dir);
            var r = LoadMemory.Measure(modelDir);
            var (with, without) = LoadMemory.FingerprintOverhead(modelDir, pr.GetValue(reps));
            var obj = new JsonObject
            {
                ["dir"] = r.Dir, ["shards"] = r.Shards, ["disk_bytes"] = r.DiskBytes, ["rss_before_bytes"] = r.RssBeforeBytes,
                ["peak_bytes"] = r.PeakBytes, ["delta_bytes"] = r.DeltaBytes, ["ratio_to_disk"] = Math.Round(r.RatioToDisk, 3),
                ["seconds"] = Math.Round(r.Seconds, 4),
            };
            static double Median(IEnumerable<double> xs) { var a = xs.Order().ToArray(); return a[a.Length / 2]; }
            if (with.Length > 0)
            {
                obj["fingerprint_wall_seconds"] = Math.Round(Median(with.Select(t => t.WallSeconds)), 4);
                obj["no_fingerprint_wall_seconds"] = Math.Round(Median(without.Select(t => t.WallSeconds)), 4);
                obj["fingerprint_cpu_seconds"] = Math.Round(Median(with.Select(t => t.CpuSeconds)), 4);
                obj["no_fingerprint_cpu_seconds"] = Math.Round(Median(without.Select(t => t.CpuSeconds)), 4);
                obj["wall_ratio_of_medians"] = Math.Round(Median(with.Select(t => t.WallSeconds)) / Median(without.Select(t => t.WallSeconds)), 3);
                obj["median_pair_wall_ratio"] = Math.Round(Median(with.Zip(without, (a, b) => a.WallSeconds / b.WallSeconds)), 3);
            }
            if (pr.GetValue(GlobalOptions.Json)) CliRunner.PrintJson(obj);
            else
            {
                Console.WriteLine($"{r.Dir}: {r.Shards} shards, {r.DiskBytes / 1e9:F2} GB on disk; peak RSS growth {r.DeltaBytes / 1e9:F2} GB = {r.RatioToDisk:F3}× disk; {r.Seconds:F1} s");
                if (with.Length > 0)
                    Console.WriteLine($"load with / without the value fingerprint, medians of {with.Length}: wall {obj["fingerprint_wall_seconds"]} / {obj["no_fingerprint_wall_seconds"]} s, " +
                                      $"CPU {obj["fingerprint_cpu_seconds"]} / {obj["no_fingerprint_cpu_seconds"]} s; median pair ratio {obj["median_pair_wall_ratio"]}");
            }
            return 0;
        });
        return cmd;
    }

    private static Command MakeCheckpoint()
    {
        var output = OutputOptions.Out("Output model folder");
        var force = OutputOptions.Force();
        var gb = new Option<double>("--gb") { Description = "Approximate size in GB", DefaultValueFactory = _ => 4.2 };
        var shards = new Option<int>("--shards") { Description = "Number of shards", DefaultValueFactory = _ => 3 };
        var seed = new Option<int?>("--seed") { Description = "Random weights from this seed (default: every value 0.01)" };
        var cmd = new Command("make-checkpoint", "Write a big random bf16 Mixtral-style checkpoint for `bench load`") { output, force, gb, shards, seed };
        cmd.SetAction(pr =>
        {
            string outDir = pr.GetValue(output)!;
            OutputOptions.Claim(outDir, IO.OutputKind.Directory, pr.GetValue(force));
            LoadMemory.WriteBigCheckpoint(outDir, pr.GetValue(gb), pr.GetValue(shards), pr.GetValue(seed));
            if (pr.GetValue(GlobalOptions.Json)) CliRunner.PrintJson(new JsonObject { ["out"] = outDir });
            else Console.WriteLine($"wrote {outDir}");
            return 0;
        });
        return cmd;
    }
}
