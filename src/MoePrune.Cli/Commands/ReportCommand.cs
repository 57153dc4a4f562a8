using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Reports.Html;

namespace MoePrune.Cli.Commands;

/// <summary><c>moeprune report RUN_OR_MODEL_DIR... --out report/</c>: an HTML page with PNG figures of scores, pruning and studies.</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "Run or model directories, or JSON files (scores.json, pruning.json, a study's JSON, similarity matrices)",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = OutputOptions.Out("Output folder for index.html, the figures and data/");
        var force = OutputOptions.Force();
        var cmd = new Command("report", "Write an HTML page with PNG figures of the scores, pruning and study JSON files given") { inputs, output, force };
        cmd.SetAction(pr =>
        {
            OutputOptions.Claim(pr.GetValue(output)!, IO.OutputKind.Directory, pr.GetValue(force));
            var summary = HtmlReport.Write(pr.GetValue(inputs)!, pr.GetValue(output)!);
            if (pr.GetValue(GlobalOptions.Json))
                CliRunner.PrintJson(new JsonObject
                {
                    ["page"] = summary.Page,
                    ["figures"] = new JsonArray(summary.Figures.Select(f => (JsonNode)f).ToArray()),
                    ["inputs"] = new JsonArray(summary.Inputs.Select(i => (JsonNode)new JsonObject
                    {
                        ["path"] = i.Path, ["kind"] = i.Kind.ToString().ToLowerInvariant(),
                    }).ToArray()),
                });
            else
                Console.WriteLine($"wrote {summary.Page}: {summary.Figures.Count} figures from {summary.Inputs.Count} JSON files");
            return 0;
        });
        return cmd;
    }
}
