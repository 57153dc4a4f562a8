using System.Globalization;
using System.Net;
using System.Text;

namespace MoePrune.Reports.Html;

/// <summary>
/// A self-contained HTML page built section by section: headings, paragraphs, figures (local PNGs), links to
/// the JSON files summarised, and tables whose numeric cells carry <c>data-src</c> (the JSON file) and
/// <c>data-path</c> (a JSON pointer) so that every shown number can be checked against its source.
/// No scripts, no external resources: the page opens from disk with no network.
/// </summary>
public sealed class HtmlPage(string title)
{
    private readonly StringBuilder _body = new();

    public static string Esc(string s) => WebUtility.HtmlEncode(s);

    /// <summary>The number as shown: 6 significant digits, invariant culture.</summary>
    public static string Number(double v) => double.IsNaN(v) ? "–" : v.ToString("G6", CultureInfo.InvariantCulture);

    public HtmlPage Heading(string text, int level = 2, string? id = null)
    {
        _body.Append($"<h{level}{(id is null ? "" : $" id=\"{Esc(id)}\"")}>{Esc(text)}</h{level}>\n");
        return this;
    }

    public HtmlPage Paragraph(string html)
    {
        _body.Append($"<p>{html}</p>\n");
        return this;
    }

    public HtmlPage Image(string file, string alt)
    {
        _body.Append($"<figure><img src=\"{Esc(file)}\" alt=\"{Esc(alt)}\"><figcaption>{Esc(alt)}</figcaption></figure>\n");
        return this;
    }

    /// <summary>A table: header cells, then rows of cells made by <see cref="Cell"/> / <see cref="TextCell"/>.</summary>
    public HtmlPage Table(IEnumerable<string> header, IEnumerable<IEnumerable<string>> rows, string? cssClass = null)
    {
        _body.Append($"<table{(cssClass is null ? "" : $" class=\"{cssClass}\"")}><thead><tr>");
        foreach (var h in header) _body.Append($"<th>{Esc(h)}</th>");
        _body.Append("</tr></thead><tbody>\n");
        foreach (var row in rows) _body.Append("<tr>").Append(string.Concat(row)).Append("</tr>\n");
        _body.Append("</tbody></table>\n");
        return this;
    }

    /// <summary>A numeric cell taken from <paramref name="source"/> at JSON pointer <paramref name="path"/>.</summary>
    public static string Cell(double value, string source, string path, string? cssClass = null) =>
        $"<td class=\"num{(cssClass is null ? "" : " " + cssClass)}\" data-src=\"{Esc(source)}\" data-path=\"{Esc(path)}\">{Number(value)}</td>";

    /// <summary>A cell computed here (not a JSON value).</summary>
    public static string Derived(double value) => $"<td class=\"num derived\">{Number(value)}</td>";

    public static string TextCell(string text) => $"<td>{Esc(text)}</td>";

    public HtmlPage Raw(string html)
    {
        _body.Append(html);
        return this;
    }

    public string Render() => $$"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>{{Esc(title)}}</title>
        <style>
        body { font-family: sans-serif; margin: 2em auto; max-width: 980px; color: #222; }
        table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-size: 0.85em; }
        th, td { border: 1px solid #ccc; padding: 2px 6px; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        td.removed { background: #fde2e2; }
        td.derived { color: #555; font-style: italic; }
        figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
        figcaption { font-size: 0.85em; color: #555; }
        details { margin-bottom: 1em; }
        </style>
        </head>
        <body>
        <h1>{{Esc(title)}}</h1>
        {{_body}}
        </body>
        </html>
        """;
}
