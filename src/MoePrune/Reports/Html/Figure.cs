using ScottPlot;

namespace MoePrune.Reports.Html;

/// <summary>One PNG of the report: a ScottPlot plot saved at a fixed size, with the page's common styling.</summary>
public static class Figure
{
    public const int Width = 900;

    /// <summary>A new plot with the title and axis labels set.</summary>
    public static Plot Create(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Title(title, size: 16);
        plot.XLabel(xLabel, size: 13);
        plot.YLabel(yLabel, size: 13);
        return plot;
    }

    /// <summary>Saves <paramref name="plot"/> as <paramref name="fileName"/> in <paramref name="dir"/>; returns the file name.</summary>
    public static string Save(Plot plot, string dir, string fileName, int width = Width, int height = 420)
    {
        plot.SavePng(Path.Combine(dir, fileName), width, height);
        return fileName;
    }

    /// <summary>
    /// A heatmap whose cell [r, c] is centred on (x = c, y = r), layer/row 0 at the top. ScottPlot's Position
    /// names the centres of the corner cells, so a single row or column is padded with an invisible NaN one.
    /// </summary>
    public static ScottPlot.Plottables.Heatmap Heatmap(Plot plot, double[,] data)
    {
        int rows = data.GetLength(0), cols = data.GetLength(1);
        int pr = Math.Max(rows, 2), pc = Math.Max(cols, 2);
        var padded = new double[pr, pc];
        for (int r = 0; r < pr; r++)
            for (int c = 0; c < pc; c++) padded[r, c] = r < rows && c < cols ? data[r, c] : double.NaN;
        var map = plot.Add.Heatmap(padded);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.NaNCellColor = Colors.Transparent;
        map.Position = new CoordinateRect(0, pc - 1, 0, pr - 1);
        plot.Axes.SetLimits(-0.5, cols - 0.5, rows - 0.5, -0.5);
        return map;
    }

    /// <summary>Integer ticks 0..n-1 labelled with <paramref name="label"/>.</summary>
    public static ScottPlot.TickGenerators.NumericManual Ticks(int n, Func<int, string> label)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int i = 0; i < n; i++) ticks.AddMajor(i, label(i));
        return ticks;
    }

    /// <summary>A file-name-safe form of a criterion or layer name.</summary>
    public static string Slug(string name) =>
        new(name.Select(c => char.IsLetterOrDigit(c) || c == '-' ? c : '_').ToArray());
}
