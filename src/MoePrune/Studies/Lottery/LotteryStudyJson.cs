using System.Text.Json.Nodes;
using MoePrune.Reports;

namespace MoePrune.Studies.Lottery;

/// <summary>
/// Renders the finished units of a lottery study as one JSON file in the study shape <c>report</c> plots
/// (docs/REPORTS.md): <c>ratios</c>, <c>references</c> and <c>rows</c> (one per criterion × strategy, grouped by criterion,
/// so each figure shows one line per strategy; per ratio the perplexity mean ± sd over seeds with every seed's value,
/// KL to the parent, expert-load entropy and task accuracy), plus the sections of parts c–f as they are. Unfinished
/// units are simply absent.
/// </summary>
public static class LotteryStudyJson
{
    static readonly string[] Strategies = ["one-shot", "iterative", "lottery"];

    public static JsonObject Render(LotteryStudyRequest r, StudyUnits units, int experts)
    {
        var ratios = r.Drops.Select(d => (double)d / experts).ToList();
        var rows = new JsonArray();
        foreach (string c in r.Criteria)
            foreach (string s in Strategies)
                if (Row($"{c} {s}", c, s, c, r, units, experts, seed => RowRounds(units, s, c, seed)) is { } row) rows.Add(row);
        foreach (var (name, unit) in new[] { ("min-ean lottery, routers only", "e-lottery-routers"), ("min-ean lottery, distillation", "e-lottery-distill") })
            if (Row(name, "min-ean", "lottery", "min-ean recovery", r, units, experts, seed => seed == r.Seeds[0] ? Rounds(units.Load(unit)) : null, withTasks: false) is { } row)
                rows.Add(row);
        var full = units.Load("a-full");
        return new JsonObject
        {
            ["study"] = "lottery",
            ["settings"] = r.ToJson(),
            ["selection"] = "uniform: one-shot drops k of 8 experts per layer at once; iterative and lottery drop 1 per layer per round, re-scoring the current model; round k is sparsity k/8",
            ["ratios"] = new JsonArray(ratios.Select(x => (JsonNode)x).ToArray()),
            ["references"] = full is null ? new JsonArray() : new JsonArray(new JsonObject
            {
                ["name"] = "unpruned", ["dir"] = Path.GetFullPath(r.ModelDir), ["perplexity"] = full["evaluation"]!["perplexity"]!.DeepClone(),
                ["load_relative_entropy"] = full["evaluation"]!["load"]!["relative_entropy_mean"]?.DeepClone(),
                ["tasks"] = units.Load(LotteryStudy.FullTasksUnit)?["tasks"]?.DeepClone(),
            }),
            ["rows"] = rows,
            ["instruction"] = Section(units, "c-"),
            ["budget"] = WithPartA(Section(units, "d-"), units, LotteryStudy.StrategyUnit("lottery", "min-ean", r.Seeds[0])),
            ["recovery"] = Section(units, "e-one-shot-"),
            ["semi_structured"] = units.Load("f-two-four")?.DeepClone(),
            ["speed"] = units.Load("f-speed")?.DeepClone(),
            ["units"] = new JsonArray(Directory.Exists(units.UnitsDir)
                ? Directory.GetFiles(units.UnitsDir, "*.json").Order(StringComparer.Ordinal)
                    .Select(f => (JsonNode)units.Load(Path.GetFileNameWithoutExtension(f))!["unit"]!.DeepClone()).ToArray()
                : []),
        };
    }

    /// <summary>Per drop count (1-based): the evaluation of that sparsity in one seed's run of a row, or null when not run.</summary>
    static Dictionary<int, JsonObject>? RowRounds(StudyUnits units, string strategy, string criterion, int seed)
    {
        if (strategy == "one-shot")
        {
            var row = units.Load(LotteryStudy.OneShotUnit(seed))?["rows"]?[criterion]?.AsObject();
            return row?.ToDictionary(kv => int.Parse(kv.Key), kv => kv.Value!["evaluation"]!.AsObject());
        }
        return Rounds(units.Load(LotteryStudy.StrategyUnit(strategy, criterion, seed)));
    }

    static Dictionary<int, JsonObject>? Rounds(JsonObject? unit) =>
        unit?["rounds"]?.AsArray().OfType<JsonObject>().ToDictionary(x => (int)x["round"]!, x => x["evaluation"]!.AsObject());

    static JsonObject? Row(string name, string criterion, string strategy, string group, LotteryStudyRequest r, StudyUnits units, int experts,
                           Func<int, Dictionary<int, JsonObject>?> rounds, bool withTasks = true)
    {
        var ratios = new JsonObject();
        var perSeed = r.Seeds.Select(seed => (Seed: seed, Rounds: rounds(seed), Tasks: withTasks ? units.Load(LotteryStudy.TasksUnit(strategy, criterion, seed))?["drops"] : null))
                             .Where(x => x.Rounds is not null).ToList();
        if (perSeed.Count == 0) return null;
        foreach (int drop in r.Drops)
        {
            var cells = perSeed.Where(x => x.Rounds!.ContainsKey(drop)).Select(x => (x.Seed, E: x.Rounds![drop], Tasks: x.Tasks?[drop.ToString()])).ToList();
            if (cells.Count == 0) continue;
            var cell = Summary(cells.Select(c => (double)c.E["perplexity"]!).ToList());
            cell["seeds"] = new JsonArray(cells.Select(c => (JsonNode)c.Seed).ToArray());
            cell["perplexities"] = new JsonArray(cells.Select(c => (JsonNode)(double)c.E["perplexity"]!).ToArray());
            var kl = cells.Where(c => c.E["kl"] is not null).Select(c => (double)c.E["kl"]!["mean"]!).ToList();
            if (kl.Count > 0) cell["kl"] = Summary(kl);
            var load = cells.Where(c => c.E["load"]?["relative_entropy_mean"] is not null).Select(c => (double)c.E["load"]!["relative_entropy_mean"]!).ToList();
            if (load.Count > 0) cell["load_relative_entropy"] = Summary(load);
            var tasked = cells.Where(c => c.Tasks is JsonObject).ToList();
            if (tasked.Count > 0)
            {
                var tasks = new JsonObject();
                foreach (string task in r.Tasks)
                    tasks[task] = Summary(tasked.Select(c => (double)c.Tasks![task]!["acc"]!).ToList());
                cell["tasks"] = tasks;
                cell["accuracy"] = Summary(tasked.Select(c => r.Tasks.Average(t => (double)c.Tasks![t]!["acc"]!)).ToList());
            }
            ratios[OneShotJson.RatioKey((double)drop / experts)] = cell;
        }
        return new JsonObject
        {
            ["name"] = name, ["group"] = group, ["strategy"] = strategy, ["criterion"] = criterion,
            ["seed_kind"] = criterion == "random" ? "random+calibration" : "calibration", ["ratios"] = ratios,
        };
    }

    /// <summary>mean and sample standard deviation (n − 1; 0 for one value) and n.</summary>
    public static JsonObject Summary(IReadOnlyList<double> v)
    {
        double mean = v.Average();
        double sd = v.Count < 2 ? 0 : Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1));
        return new JsonObject { ["mean"] = mean, ["sd"] = sd, ["n"] = v.Count };
    }

    /// <summary>Part d's runs and part a's run at the unscaled budget (the ×1 row).</summary>
    static JsonObject WithPartA(JsonObject section, StudyUnits units, string unit)
    {
        if (section.Count > 0 && units.Load(unit) is { } a) section[unit] = Slim(a);
        return section;
    }

    static JsonObject Section(StudyUnits units, string prefix)
    {
        var section = new JsonObject();
        if (!Directory.Exists(units.UnitsDir)) return section;
        foreach (var file in Directory.GetFiles(units.UnitsDir, prefix + "*.json").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(file);
            section[name] = Slim(units.Load(name)!);
        }
        return section;
    }

    /// <summary>A unit's record without per-layer score tables and per-step loss lists (they stay in the unit files).</summary>
    static JsonObject Slim(JsonObject unit)
    {
        var copy = unit.DeepClone().AsObject();
        foreach (var round in copy["rounds"]?.AsArray().OfType<JsonObject>() ?? [])
        {
            round.Remove("layers");
            round.Remove("calibration");
            round.Remove("selection");
            if (round["finetune"] is JsonObject ft) { ft.Remove("cross_entropy"); ft.Remove("distillation"); ft.Remove("data"); }
        }
        if (copy["settings"]?["finetune"]?["tokens"] is JsonNode budget) copy["finetune_budget"] = budget.DeepClone();
        copy.Remove("settings");
        return copy;
    }
}
