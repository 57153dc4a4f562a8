using System.CommandLine;
using MoePrune.Cli;
using MoePrune.Tests.Jobs;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.Cli;

/// <summary>
/// docs/CLI.md is the contract: every option of every command is a row of its table with that command listed,
/// and every listed command has the option; global options are on every command. Every command refuses a
/// mistyped option with one line naming it and the option meant.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class CliVocabularyTests(ITestOutputHelper output)
{
    const string Every = "every command";

    /// <summary>Leaf commands ("bench forward") and their own options (globals and help excluded).</summary>
    static List<(string Path, Command Command)> Leaves()
    {
        var result = new List<(string, Command)>();
        void Walk(Command c, string path)
        {
            if (c.Subcommands.Count == 0) result.Add((path, c));
            foreach (var s in c.Subcommands) Walk(s, path.Length == 0 ? s.Name : $"{path} {s.Name}");
        }
        Walk(CliRoot.Create(), "");
        return result;
    }

    static IEnumerable<string> OwnOptions(Command c) => c.Options.Where(o => o is not System.CommandLine.Help.HelpOption).Select(o => o.Name);

    /// <summary>option → listed commands, from the table under "## Every option" (markdown parsed here, not by the code under test).</summary>
    static Dictionary<string, string[]> Table()
    {
        var lines = File.ReadAllLines(Path.Combine(RepoRoot(), "docs", "CLI.md"));
        int start = Array.FindIndex(lines, l => l.Trim() == "## Every option");
        Assert.True(start >= 0, "docs/CLI.md has no '## Every option' section");
        var rows = new Dictionary<string, string[]>();
        foreach (var line in lines.Skip(start + 1).SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).Skip(2))
        {
            var cells = line.Trim().Trim('|').Replace("\\|", "\u0001").Split('|').Select(c => c.Trim().Replace("\u0001", "|")).ToArray();
            Assert.True(cells.Length == 4, $"docs/CLI.md row with {cells.Length} cells: {line}");
            string option = cells[0].Trim('`');
            Assert.False(rows.ContainsKey(option), $"docs/CLI.md lists {option} twice");
            rows[option] = cells[3].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        }
        return rows;
    }

    static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "docs", "CLI.md"))) return d.FullName;
        throw new InvalidOperationException("docs/CLI.md not found above the test binaries");
    }

    [Fact]
    public void EveryCommandsOptionsFollowTheTableInDocsCli()
    {
        var table = Table();
        var leaves = Leaves();
        var problems = new List<string>();
        var root = CliRoot.Create();
        foreach (var global in root.Options.Where(o => o.Recursive))
            if (!table.TryGetValue(global.Name, out var listed) || listed is not [Every]) problems.Add($"{global.Name}: global, but not listed for '{Every}'");
        foreach (var (path, command) in leaves)
            foreach (var option in OwnOptions(command))
                if (!table.TryGetValue(option, out var listed)) problems.Add($"{path} {option}: not in docs/CLI.md");
                else if (!listed.Contains(path)) problems.Add($"{path} {option}: docs/CLI.md does not list '{path}' for it");
        var paths = leaves.ToDictionary(l => l.Path, l => OwnOptions(l.Command).ToHashSet());
        foreach (var (option, listed) in table)
        {
            if (listed is [Every])
            {
                if (!root.Options.Any(o => o.Recursive && o.Name == option)) problems.Add($"{option}: listed for every command but not global");
                continue;
            }
            foreach (var path in listed)
                if (!paths.TryGetValue(path, out var options)) problems.Add($"{option}: docs/CLI.md lists unknown command '{path}'");
                else if (!options.Contains(option)) problems.Add($"{option}: docs/CLI.md lists '{path}', which has no such option");
        }
        foreach (var p in problems) output.WriteLine(p);
        output.WriteLine($"{leaves.Count} commands, {table.Count} options in the table");
        Assert.Empty(problems);
    }

    [Fact]
    public void EveryCommandRefusesAMistypedOptionNamingTheOneMeant()
    {
        foreach (var (path, command) in Leaves())
        {
            var words = path.Split(' ');
            Refusal.Assert1(JobSupport.CliOutput([.. words, "--zz-not-an-option", "--json"]),
                $"moeprune {path}: unknown option --zz-not-an-option (see moeprune {path} --help)", output);
            foreach (var option in OwnOptions(command).Where(o => o.Length > 5))
            {
                string typo = option[..^1];
                if (OwnOptions(command).Contains(typo)) continue;
                Refusal.Assert1(JobSupport.CliOutput([.. words, typo, "1"]),
                    $"moeprune {path}: unknown option {typo} (did you mean {option}?)", output);
            }
        }
    }
}
