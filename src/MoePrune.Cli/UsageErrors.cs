using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;

namespace MoePrune.Cli;

/// <summary>
/// The one-line message for a command line that cannot run: an unknown option (named, with the closest known
/// one), a missing subcommand, or the parser's first error reworded; null when the line is fine.
/// </summary>
public static partial class UsageErrors
{
    public static string? Find(ParseResult parsed)
    {
        var result = parsed.CommandResult;
        var command = result.Command;
        string path = CommandPath(result);
        var positional = result.Children.OfType<ArgumentResult>().SelectMany(a => a.Tokens).Select(t => t.Value);
        foreach (string token in positional.Concat(parsed.UnmatchedTokens))
            if (LooksLikeOption(token))
            {
                string name = token.Split('=', ':')[0];
                var known = KnownOptions(result).ToList();
                string? closest = Renamed.TryGetValue(name, out var renamed) && known.Contains(renamed) ? renamed : Closest(name, known);
                return $"{path}: unknown option {name}" + (closest is null ? $" (see {path} --help)" : $" (did you mean {closest}?)");
            }
        if (command.Subcommands.Count > 0 && command.Action is null && !HelpAsked(parsed))
            return $"{path}: give a command: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))} (see {path} --help)";
        if (parsed.Errors.Count == 0) return null;
        return Reword(parsed.Errors[0].Message, path, result);
    }

    /// <summary>Options renamed when the vocabulary was settled (docs/CLI.md), suggested for their old spelling.</summary>
    public static readonly IReadOnlyDictionary<string, string> Renamed = new Dictionary<string, string>
    {
        ["--calib-seqs"] = "--calib-sequences", ["--calib-len"] = "--calib-seq-len", ["--tokens"] = "--token-file",
        ["--max-per-genre"] = "--sequences", ["--bf16"] = "--dtype", ["--dtypes"] = "--dtype", ["--type"] = "--dtype",
        ["--card-notes"] = "--card-notes-file", ["--eval-tokens"] = "--eval-token-file", ["--corpus"] = "--text-file",
        ["--file"] = "--text-file",
    };

    static bool HelpAsked(ParseResult parsed) => parsed.Tokens.Any(t => t.Type == TokenType.Option && t.Value is "--help" or "-h" or "-?");

    static bool LooksLikeOption(string token) =>
        token.Length > 1 && token[0] == '-' && !double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    /// <summary>"moeprune bench load" for the command that was parsed.</summary>
    public static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
            if (r is CommandResult c) names.Insert(0, c.Command.Name);
        return string.Join(" ", names);
    }

    /// <summary>Every option name (and alias) the parsed command accepts, its own and its ancestors' recursive ones.</summary>
    public static IEnumerable<string> KnownOptions(CommandResult result)
    {
        for (SymbolResult? r = result; r is not null; r = r.Parent)
            if (r is CommandResult c)
                foreach (var o in c.Command.Options.Where(o => r == result || o.Recursive))
                {
                    yield return o.Name;
                    foreach (var a in o.Aliases) yield return a;
                }
    }

    /// <summary>The known name nearest to <paramref name="name"/> (prefix matches first, then edit distance), or null when none is near.</summary>
    public static string? Closest(string name, IEnumerable<string> known)
    {
        var candidates = known.Where(k => k.StartsWith("--", StringComparison.Ordinal)).Distinct().ToList();
        if (candidates.Count == 0) return null;
        string best = candidates.OrderBy(k => k.StartsWith(name, StringComparison.Ordinal) ? 0 : 1)
                                .ThenBy(k => Distance(name, k)).ThenBy(k => k, StringComparer.Ordinal).First();
        bool near = best.StartsWith(name, StringComparison.Ordinal) || name.StartsWith(best, StringComparison.Ordinal)
                    || Distance(name, best) <= Math.Max(2, (name.Length - 2) / 2);
        return near ? best : null;
    }

    /// <summary>Levenshtein distance.</summary>
    public static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    /// <summary>The parser's messages in this CLI's words.</summary>
    static string Reword(string message, string path, CommandResult result)
    {
        if (CannotParse().Match(message) is { Success: true } m)
        {
            var option = result.Command.Options.FirstOrDefault(o => o.Name == m.Groups[2].Value || o.Aliases.Contains(m.Groups[2].Value));
            return $"{m.Groups[2].Value}: '{m.Groups[1].Value}' is not {Kind(option?.ValueType)}";
        }
        if (Required().Match(message) is { Success: true } r) return $"{path}: {r.Groups[1].Value} is required";
        if (MissingValue().Match(message) is { Success: true } v) return $"{v.Groups[1].Value}: needs a value";
        if (Unrecognized().Match(message) is { Success: true } u) return $"{path}: unexpected argument '{u.Groups[1].Value}' (see {path} --help)";
        return $"{path}: {message.TrimEnd('.')}";
    }

    static string Kind(Type? type)
    {
        var t = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return t == typeof(int) || t == typeof(long) ? "a whole number"
             : t == typeof(double) || t == typeof(float) ? "a number"
             : t == typeof(bool) ? "true or false"
             : "a valid value";
    }

    [GeneratedRegex(@"^Cannot parse argument '(.*)' for option '(.*)' as expected type")]
    private static partial Regex CannotParse();

    [GeneratedRegex(@"^Option '(.*)' is required")]
    private static partial Regex Required();

    [GeneratedRegex(@"^Required argument missing for option: '(.*)'")]
    private static partial Regex MissingValue();

    [GeneratedRegex(@"^Unrecognized command or argument '(.*)'")]
    private static partial Regex Unrecognized();
}
