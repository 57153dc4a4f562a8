using System.CommandLine;
using TorchSharp;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>--threads N</c> of the commands whose results must repeat bit for bit (CPU reductions depend on the thread
/// count): sets torch's intra-op threads before any work; without it torch's default is kept. Run folders record it.
/// </summary>
public static class ThreadsOption
{
    public static Option<int?> Create() => new("--threads") { Description = "Torch CPU threads (results repeat bit for bit only with the same count; default: torch's)" };

    public static void Apply(ParseResult pr, Option<int?> option)
    {
        if (pr.GetValue(option) is not int n) return;
        if (n < 1) throw new MoePruneException($"--threads: {n} must be at least 1");
        torch.set_num_threads(n);
    }
}
