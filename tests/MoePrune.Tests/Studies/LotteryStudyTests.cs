using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.IO;
using MoePrune.Jobs;
using MoePrune.Studies.Lottery;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Studies;

/// <summary>
/// Part a of the lottery study on the default model, scaled down to one expert per layer: the iterative run's one round
/// cuts and scores exactly as the one-shot row (the same experts, the same perplexity bits), the lottery's round
/// fine-tunes and is recorded, and a second run does no unit again but renders the tables once more; a continuation with
/// another first seed or another setting is refused (later seeds may be added).
/// </summary>
public class LotteryStudyTests(ITestOutputHelper output)
{
    [Fact]
    public void PartAWithOneRoundMatchesOneShotAndARerunOnlyRenders()
    {
        using var tmp = new TempDir();
        var defaults = new LotteryStudyRequest { ModelDir = "", WorkDir = "" };
        var request = defaults with
        {
            ModelDir = DefaultModelFiles.Directory(), WorkDir = tmp["study"], Parts = new HashSet<char> { 'a' }, Criteria = ["min-ean"], Seeds = [0],
            MaxDrop = 1, EvalSequencesPerGenre = 1,
            Calibration = new CalibrationSettings { Spec = CalibrationSpec.Default, Sequences = 4, Length = 64, BatchSize = 4 },
            FineTune = defaults.FineTune with { Tokens = 256, BatchSize = 2, SequenceLength = 64, PoolSequences = 8 },
        };
        var lines = new List<string>();
        int renders = 0;
        Assert.Empty(LotteryStudy.Run(request, lines.Add, _ => renders++));
        output.WriteLine(string.Join("\n", lines));
        Assert.Equal(5, renders);                                                   // a-full, one-shot, iterative, lottery, and once at the end

        var units = Path.Combine(request.WorkDir, "units");
        var oneShot = JsonFile.ReadObject(Path.Combine(units, "a-one-shot-s0.json"))["rows"]!["min-ean"]!["1"]!;
        var iterative = JsonFile.ReadObject(Path.Combine(units, "a-iterative-min-ean-s0.json"))["rounds"]!.AsArray();
        var lottery = JsonFile.ReadObject(Path.Combine(units, "a-lottery-min-ean-s0.json"))["rounds"]!.AsArray();
        Assert.Single(iterative);
        double p1 = (double)oneShot["evaluation"]!["perplexity"]!, p2 = (double)iterative[0]!["evaluation"]!["perplexity"]!;
        output.WriteLine($"one-shot {p1:R}, iterative {p2:R}, lottery {(double)lottery[0]!["evaluation"]!["perplexity"]!:R}");
        Assert.Equal(p1, p2);
        foreach (var (layer, kept) in oneShot["kept"]!.AsObject())
        {
            var removed = iterative[0]!["layers"]![layer]!["removed"];                  // original indices
            var expected = Enumerable.Range(0, 8).Except(kept!.AsArray().Select(e => (int)e!)).ToArray();
            Assert.Equal(expected, removed!.AsArray().Select(e => (int)e!).ToArray());
        }
        Assert.Equal(256, (int)lottery[0]!["finetune"]!["tokens"]!);

        lines.Clear();
        renders = 0;
        Assert.Empty(LotteryStudy.Run(request, lines.Add, _ => renders++));
        Assert.Equal(1, renders);
        Assert.DoesNotContain(lines, l => l.Contains("start"));

        var otherFirstSeed = Assert.Throws<MoePruneException>(() => LotteryStudy.Run(request with { Seeds = [1, 0] }));
        output.WriteLine(otherFirstSeed.Message);
        Assert.Contains("other settings", otherFirstSeed.Message);
        Assert.Contains("other settings", Assert.Throws<MoePruneException>(() => LotteryStudy.Run(request with { MaxDrop = 2 })).Message);
    }
}
