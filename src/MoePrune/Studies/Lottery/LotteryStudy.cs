using System.Text.Json.Nodes;
using MoePrune.Criteria;
using MoePrune.Jobs;
using MoePrune.Jobs.FineTuning;
using MoePrune.Jobs.Strategies;
using MoePrune.Pruning;

namespace MoePrune.Studies.Lottery;

/// <summary>
/// The lottery study as resumable units (<see cref="StudyUnits"/>), most informative first: for the first seed every
/// criterion one-shot, iterative and lottery (part a), their task accuracy (b), the instruction-following test (c), the
/// recovery variants at equal tokens (e), 2:4 weight pruning and speed (f), the fine-tune budget (d), then the other
/// seeds. Iterative and lottery runs drop one expert per layer per round up to <see cref="LotteryStudyRequest.MaxDrop"/>,
/// so round k of one run is the row at sparsity k/8. Rendered by <see cref="LotteryStudyJson"/>.
/// </summary>
public static class LotteryStudy
{
    public static string OneShotUnit(int seed) => $"a-one-shot-s{seed}";
    public static string StrategyUnit(string strategy, string criterion, int seed) => $"a-{strategy}-{criterion}-s{seed}";
    public static string TasksUnit(string strategy, string criterion, int seed) => $"b-{strategy}-{criterion}-s{seed}";
    public const string FullTasksUnit = "b-full";

    /// <summary>
    /// Runs every unit of the requested parts that has not finished, calling <paramref name="afterEach"/> after each and
    /// once at the end (so a run with nothing left to do renders the finished units again); returns the names that failed.
    /// </summary>
    public static List<string> Run(LotteryStudyRequest request, Action<string>? log = null, Action<LotteryStudyContext>? afterEach = null)
    {
        request.Check();
        Directory.CreateDirectory(request.WorkDir);
        string file = Path.Combine(request.WorkDir, "study.json");
        var settings = request.ToJson();
        if (File.Exists(file) && !JsonNode.DeepEquals(WithoutSeeds(IO.JsonFile.ReadObject(file)["settings"]), WithoutSeeds(settings)))
            throw new MoePruneException($"{file}: the study in {request.WorkDir} was started with other settings; continue it with the same options (other seeds may be added) or use another --work folder");
        IO.JsonFile.WriteAtomic(file, new JsonObject { ["settings"] = settings });
        LotteryStudyContext? ctx = null;
        var units = new StudyUnits(request.WorkDir, log) { AfterEach = () => afterEach?.Invoke(ctx!) };
        using (ctx = new LotteryStudyContext(request, units))
        {
            var failed = units.RunAll(Units(ctx, log).Where(u => request.Parts.Contains(u.Part)));
            afterEach?.Invoke(ctx);
            return failed;
        }
    }

    /// <summary>
    /// The settings a continued study must repeat: all but the seeds after the first (parts c–f use the first seed's
    /// runs; every other seed's units are kept apart, so adding seeds extends the study).
    /// </summary>
    static JsonNode? WithoutSeeds(JsonNode? settings)
    {
        if (settings is not JsonObject o || o["seeds"] is not JsonArray { Count: > 0 } seeds) return settings;
        var copy = (JsonObject)o.DeepClone();
        copy["seeds"] = new JsonArray(seeds[0]!.DeepClone());
        return copy;
    }

    public static IEnumerable<StudyUnit> Units(LotteryStudyContext ctx, Action<string>? log)
    {
        var r = ctx.Request;
        var first = r.Seeds[0];
        foreach (var unit in SeedUnits(ctx, first, log)) yield return unit;
        foreach (var unit in InstructionUnits.All(ctx, log)) yield return unit;
        foreach (var unit in RecoveryUnits(ctx, log)) yield return unit;
        foreach (var unit in SemiStructuredUnits.All(ctx, log)) yield return unit;
        foreach (double m in r.BudgetMultiples)
            yield return new StudyUnit($"d-lottery-min-ean-x{m:0.###}", 'd', () => Strategy(ctx, $"d-lottery-min-ean-x{m:0.###}", PruneStrategy.Lottery,
                "min-ean", first, r.MaxDrop, log, fineTune: r.FineTune with { Tokens = (long)Math.Round(r.FineTune.Tokens * m) }));
        foreach (int seed in r.Seeds.Skip(1))
            foreach (var unit in SeedUnits(ctx, seed, log)) yield return unit;
    }

    static IEnumerable<StudyUnit> SeedUnits(LotteryStudyContext ctx, int seed, Action<string>? log)
    {
        var r = ctx.Request;
        if (seed == r.Seeds[0]) yield return new StudyUnit("a-full", 'a', () => new JsonObject { ["evaluation"] = ctx.Evaluation.Perplexity(ctx.Original) });
        yield return new StudyUnit(OneShotUnit(seed), 'a', () => OneShot(ctx, seed));
        foreach (var strategy in new[] { PruneStrategy.Iterative, PruneStrategy.Lottery })
            foreach (string c in r.Criteria)
            {
                string name = StrategyUnit(PruneStrategies.Name(strategy), c, seed);
                yield return new StudyUnit(name, 'a', () => Strategy(ctx, name, strategy, c, seed, r.MaxDrop, log));
            }
        if (seed == r.Seeds[0]) yield return new StudyUnit(FullTasksUnit, 'b', () => new JsonObject { ["tasks"] = ctx.Tasks(ctx.Original) });
        foreach (string strategy in new[] { "one-shot", "iterative", "lottery" })
            foreach (string c in r.Criteria)
                yield return new StudyUnit(TasksUnit(strategy, c, seed), 'b', () => Tasks(ctx, strategy, c, seed));
    }

    /// <summary>One calibration pass for every criterion that reads statistics, then every criterion at every drop count from it.</summary>
    static JsonObject OneShot(LotteryStudyContext ctx, int seed)
    {
        var r = ctx.Request;
        var model = ctx.Original;
        var specs = r.Criteria.Select(c => (Name: c, Spec: CriterionSpec.Parse(c))).ToList();
        var calibration = r.Calibration with { Seed = seed };
        var reading = specs.Select(s => s.Spec).Where(s => s.Needs.ReadsStatistics).ToList();
        var stats = reading.Count > 0 ? calibration.Collect(model, r.ModelDir, reading).Stats : null;
        var rows = new JsonObject();
        foreach (var (name, spec) in specs)
        {
            var row = new JsonObject();
            foreach (int drop in r.Drops)
            {
                var input = new RoundInput(1, model, ExpertLineage.Identity(model.MoeLayers), r.ModelDir) { Statistics = spec.Needs.ReadsStatistics ? stats : null };
                var roundSpec = new RoundSpec { Criterion = spec, Selection = new SelectionRequest { Drop = drop }, Calibration = calibration };
                JsonObject? evaluation = null;
                using var round = PruneRound.Run(input, roundSpec, new RoundHooks { Evaluate = x => evaluation = ctx.Evaluation.Measure(x.Model) });
                var kept = new JsonObject();
                foreach (int layer in round.LineageAfter.Layers)
                    kept[layer.ToString()] = new JsonArray(round.LineageAfter.KeptOriginals(layer).Select(e => (JsonNode)e).ToArray());
                row[drop.ToString()] = new JsonObject { ["kept"] = kept, ["evaluation"] = evaluation };
            }
            rows[name] = row;
        }
        return new JsonObject { ["strategy"] = "one-shot", ["seed"] = seed, ["calibration_tokens"] = stats?.Tokens, ["rows"] = rows };
    }

    /// <summary>A <see cref="StrategyJob"/> run in <c>runs/NAME</c> (resumed when its run folder exists); the record lists its rounds.</summary>
    public static JsonObject Strategy(LotteryStudyContext ctx, string name, PruneStrategy strategy, string criterion, int seed, int drop,
        Action<string>? log, FineTuneSpec? fineTune = null, string? train = null, FineTuneObjective? objective = null,
        Recalibration recalibrate = Recalibration.None)
    {
        var r = ctx.Request;
        Directory.CreateDirectory(ctx.RunsDir);
        string work = Path.Combine(ctx.RunsDir, name);
        var request = new StrategyRequest
        {
            ModelDir = r.ModelDir, WorkDir = work, Resume = File.Exists(Path.Combine(work, RunFolder.SettingsFile)),
            Strategy = strategy, Criterion = criterion, Selection = new SelectionRequest { Drop = drop },
            Calibration = r.Calibration with { Seed = seed }, FineTune = (fineTune ?? r.FineTune) with { Seed = FineTuneSpec.DefaultSeed + seed },
            Train = train, Objective = objective, Growth = r.Growth, Recalibrate = recalibrate, Evaluation = ctx.EvaluationSpec,
        };
        var result = StrategyJob.Run(request, log: log is null ? null : line => log($"  {name}: {line}"));
        return new JsonObject
        {
            ["strategy"] = PruneStrategies.Name(strategy), ["criterion"] = criterion, ["seed"] = seed,
            ["recalibrate"] = PruneStrategies.Name(recalibrate), ["settings"] = request.SettingsJson(),
            ["rounds"] = new JsonArray(result.Rounds.Select(x => (JsonNode)x.DeepClone()).ToArray()),
        };
    }

    /// <summary>Part b: the tasks of every sparsity of one row.</summary>
    static JsonObject Tasks(LotteryStudyContext ctx, string strategy, string criterion, int seed)
    {
        var byDrop = new JsonObject();
        foreach (int drop in ctx.Request.Drops)
        {
            using var model = ctx.RowModel(strategy, criterion, seed, drop);
            byDrop[drop.ToString()] = ctx.Tasks(model);
        }
        return new JsonObject { ["strategy"] = strategy, ["criterion"] = criterion, ["seed"] = seed, ["drops"] = byDrop };
    }

    /// <summary>Part e: recovery of min-EAN cuts at equal fine-tune tokens (the lottery's total up to the same sparsity).</summary>
    static IEnumerable<StudyUnit> RecoveryUnits(LotteryStudyContext ctx, Action<string>? log)
    {
        var r = ctx.Request;
        int seed = r.Seeds[0];
        foreach (int drop in r.RecoveryDrops)
        {
            var tokens = r.FineTune with { Tokens = r.LotteryTokens(drop) };
            foreach (var (variant, recal, train) in new[]
            {
                ("routers", Recalibration.Routers, "routers"), ("distill-routers", Recalibration.Distill, "routers"),
                ("all", Recalibration.Routers, "all"), ("distill-all", Recalibration.Distill, "all"),
            })
            {
                string name = $"e-one-shot-{variant}-d{drop}";
                yield return new StudyUnit(name, 'e', () => Strategy(ctx, name, PruneStrategy.OneShot, "min-ean", seed, drop, log, tokens, train, recalibrate: recal));
            }
        }
        yield return new StudyUnit("e-lottery-routers", 'e', () => Strategy(ctx, "e-lottery-routers", PruneStrategy.Lottery, "min-ean", seed, r.MaxDrop, log, train: "routers"));
        yield return new StudyUnit("e-lottery-distill", 'e', () => Strategy(ctx, "e-lottery-distill", PruneStrategy.Lottery, "min-ean", seed, r.MaxDrop, log,
            objective: FineTuneObjective.Distill));
    }
}
