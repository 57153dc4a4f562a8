using MoePrune.Cli.Commands;
using MoePrune.Criteria;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Cli;

/// <summary>The score table shows expert ids with their values, in drop order, one line per criterion, with a short title.</summary>
public class ScoreTableTests(ITestOutputHelper output)
{
    [Fact]
    public void RowsListExpertIdsAndValuesInDropOrder()
    {
        var report = new ScoresReport();
        var min = new CriterionScores { Spec = CriterionSpec.Parse("min-ean"), Drops = DropDirection.Min };
        min.Layers[3] = new LayerScores(3, 2, [0.5, 0.125, 2, 1]);
        var max = new CriterionScores { Spec = CriterionSpec.Parse("max-rwn"), Drops = DropDirection.Max };
        max.Layers[3] = new LayerScores(3, 2, [0.5, 0.125, 2, 1]);
        report.Add(min);
        report.Add(max);
        string text = ScoreTable.Render(report);
        output.WriteLine(text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("layer 3: expert: value, in drop order (dropped first on the left)", lines[0]);
        static string Cells(string line) => System.Text.RegularExpressions.Regex.Replace(line.Trim(), "  +", " | ");
        Assert.Equal("max-rwn | 2: 2 | 3: 1 | 0: 0.5 | 1: 0.125", Cells(lines[1]));                // largest dropped first
        Assert.Equal("min-ean | 1: 0.125 | 0: 0.5 | 3: 1 | 2: 2", Cells(lines[2]));                // smallest dropped first
        Assert.All(lines, l => Assert.True(l.Length < 100));
    }

    [Fact]
    public void WideLayersShowTheFirstDroppedAndTheLastKept()
    {
        var report = new ScoresReport();
        var s = new CriterionScores { Spec = CriterionSpec.Parse("min-euf"), Drops = DropDirection.Min };
        s.Layers[0] = new LayerScores(0, 2, Enumerable.Range(0, 64).Select(i => (double)(63 - i)).ToArray());
        report.Add(s);
        var row = ScoreTable.Render(report).Split('\n')[1];
        output.WriteLine(row);
        var cells = System.Text.RegularExpressions.Regex.Split(row.Trim(), "  +");
        Assert.Equal(["min-euf", "63: 0", "62: 1"], cells.Take(3));
        Assert.Equal(["…", "0: 63"], cells.TakeLast(2));
        Assert.Equal(1 + ScoreTable.MaxShown, cells.Length);
    }
}
