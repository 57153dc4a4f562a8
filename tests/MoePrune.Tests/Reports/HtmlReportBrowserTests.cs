using System.Globalization;
using System.Text.Json.Nodes;
using MoePrune.Reports.Html;
using MoePrune.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Reports;

/// <summary>
/// The HTML report in a real browser (Debian's headless Chromium): it renders without console errors, exceptions
/// or failed loads, every image loads (naturalWidth &gt; 0), every linked JSON file is there, and every number in
/// its tables equals the value at its JSON pointer in the source file (resolved by the test, to the 6 significant
/// digits shown). A screenshot is kept in the report folder of the last run (path printed).
/// </summary>
public class HtmlReportBrowserTests(ITestOutputHelper output)
{
    [ChromiumFact]
    public void ReportRendersInChromiumWithImagesAndNumbersFromTheJson()
    {
        using var temp = new TempDir();
        string run = temp["run"];
        Directory.CreateDirectory(run);
        ReportTestInputs.Write(run);
        var summary = HtmlReport.Write([run, ReportTestInputs.StudyJson()], temp["report"]);

        using var browser = new HeadlessChromium();
        browser.Open(new Uri(Path.GetFullPath(summary.Page)).AbsoluteUri);
        var page = browser.Evaluate("""
            ({
              images: Array.from(document.images).map(i => ({ src: i.getAttribute('src'), width: i.naturalWidth, complete: i.complete })),
              cells: Array.from(document.querySelectorAll('td[data-path]')).map(td => ({ src: td.dataset.src, path: td.dataset.path, text: td.textContent })),
              links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
              height: document.documentElement.scrollHeight
            })
            """)!.AsObject();
        string shot = Path.Combine(Path.GetTempPath(), "moeprune-report-screenshot.png");
        File.WriteAllBytes(shot, browser.Screenshot());
        output.WriteLine($"screenshot: {shot}; page height {page["height"]} px");

        Assert.Empty(browser.Problems);
        var images = page["images"]!.AsArray();
        Assert.Equal(summary.Figures.Count, images.Count);
        Assert.All(images, i => Assert.True((int)i!["width"]! > 0 && (bool)i["complete"]!, $"image {i["src"]} did not load"));
        foreach (var link in page["links"]!.AsArray().Select(l => (string)l!))
            Assert.True(File.Exists(Path.Combine(temp["report"], link)), $"link {link} points to nothing");

        var sources = summary.Inputs.ToDictionary(i => i.Name, i => JsonNode.Parse(File.ReadAllText(Path.Combine(temp["report"], "data", i.Name)))!);
        var cells = page["cells"]!.AsArray();
        double worst = 0;
        foreach (var cell in cells)
        {
            var expected = (double)ReportTestInputs.At(sources[(string)cell!["src"]!], (string)cell["path"]!)!;
            double shown = double.Parse((string)cell["text"]!, CultureInfo.InvariantCulture);
            double rel = Math.Abs(shown - expected) / Math.Max(Math.Abs(expected), 1e-300);
            worst = Math.Max(worst, rel);
            Assert.True(rel <= 5e-6, $"{cell["src"]}{cell["path"]}: page shows {shown}, JSON has {expected}");
        }
        int expectedCells = 3 * ReportTestInputs.Layers * ReportTestInputs.Experts
                            + sources["results-one-shot.json"]["rows"]!.AsArray().Sum(r => 2 * r!["ratios"]!.AsObject().Count);
        Assert.Equal(expectedCells, cells.Count);
        output.WriteLine($"{images.Count} images loaded; {cells.Count} table numbers equal their JSON values (max relative rounding {worst:E1})");
    }
}
