using System.Text.Json.Nodes;
using MoePrune.Calibration;
using MoePrune.Jobs;
using MoePrune.Jobs.FineTuning;

namespace MoePrune.Studies.Lottery;

/// <summary>
/// The settings of the lottery study (docs/RESULTS.md): criteria × strategies × sparsities 1/8 … <see cref="MaxDrop"/>/8,
/// their task accuracy, the instruction-following test, the fine-tune budget, the recovery variants and 2:4 weight
/// pruning. The defaults are scaled to the default model so that the whole study takes about two hours of a quiet
/// 2-core machine (docs/RESULTS.md says why each number is what it is).
/// </summary>
public sealed record LotteryStudyRequest
{
    public required string ModelDir { get; init; }
    /// <summary>The study's folder: one JSON per finished unit, the run folders; rerunning continues it.</summary>
    public required string WorkDir { get; init; }
    /// <summary>Parts to run: a (perplexity), b (tasks), c (instruction following), d (budget), e (recovery), f (2:4, speed).</summary>
    public IReadOnlySet<char> Parts { get; init; } = new HashSet<char>("abcdef");
    public IReadOnlyList<string> Criteria { get; init; } = ["random", "min-ean", "min-ege", "max-rwn", "max-ets"];
    /// <summary>Calibration seeds (the random criterion's seed too); each gives one run of every strategy.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];
    /// <summary>Experts dropped per layer at the highest sparsity (6 of 8 = 75%); every drop count up to it is a row.</summary>
    public int MaxDrop { get; init; } = 6;
    public CalibrationSettings Calibration { get; init; } = new() { Spec = CalibrationSpec.Default, Sequences = 64, Length = 256 };
    /// <summary>Perplexity and KL on the first N Brown validation sequences of 256 tokens per genre.</summary>
    public int EvalSequencesPerGenre { get; init; } = 2;
    /// <summary>The lottery's fine-tune; <see cref="FineTuneSpec.Tokens"/> is the first round's budget.</summary>
    public FineTuneSpec FineTune { get; init; } = new() { Tokens = 8192, Optimizer = new() { LearningRate = 1e-3 }, BatchSize = 8, SequenceLength = 256, CheckpointEvery = 8 };
    public double Growth { get; init; } = 2;
    /// <summary>Tasks of part b (accuracy of every pruned model) and their document limit.</summary>
    public IReadOnlyList<string> Tasks { get; init; } = ["def2word", "hypernym"];
    public int TaskLimit { get; init; } = 150;
    /// <summary>Part c: tasks, limit, demonstrations of the k-shot column, SFT examples and budget.</summary>
    public IReadOnlyList<string> InstructionTasks { get; init; } = ["def2word", "def2word_letter", "def2word_gen"];
    public int InstructionLimit { get; init; } = 150;
    public int Shots { get; init; } = 3;
    public int SftExamples { get; init; } = 2000;
    public long SftTokens { get; init; } = 200L * 8 * 128;
    /// <summary>Part d: multiples of the first-round budget besides 1 (part a's run).</summary>
    public IReadOnlyList<double> BudgetMultiples { get; init; } = [0.25, 0.5, 2];
    /// <summary>Part e and f: drop counts compared (4 = 50%, 6 = 75%).</summary>
    public IReadOnlyList<int> RecoveryDrops { get; init; } = [4, 6];
    public int Threads { get; init; } = 2;
    public OptionNames Names { get; init; } = OptionNames.Neutral;

    public IEnumerable<int> Drops => Enumerable.Range(1, MaxDrop);

    /// <summary>Total lottery fine-tune tokens up to <paramref name="drop"/> rounds (one expert per layer per round).</summary>
    public long LotteryTokens(int drop, double multiple = 1) =>
        Enumerable.Range(0, drop).Sum(k => (long)Math.Round(FineTune.Tokens * multiple * Math.Pow(Growth, k)));

    public void Check()
    {
        if (Seeds.Count == 0) throw new MoePruneException($"{Names[OptionNames.CalibrationSeeds]}: no seed given");
        if (MaxDrop < 1) throw new MoePruneException($"max drop {MaxDrop} must be at least 1");
        if (Parts.Any(p => p is < 'a' or > 'f')) throw new MoePruneException($"parts: '{string.Concat(Parts)}' names a part other than a … f");
        FineTune.Check();
        foreach (string c in Criteria) MoePrune.Criteria.CriterionSpec.Parse(c, "criteria");
        if (!Criteria.Contains("min-ean") && Parts.Any(p => p is 'c' or 'd' or 'e' or 'f'))
            throw new MoePruneException("criteria: parts c-f study min-ean cuts; include min-ean");
    }

    public JsonObject ToJson() => new()
    {
        ["model_dir"] = Path.GetFullPath(ModelDir),
        ["criteria"] = Strings(Criteria), ["seeds"] = new JsonArray(Seeds.Select(s => (JsonNode)s).ToArray()), ["max_drop"] = MaxDrop,
        ["calibration"] = new JsonObject { ["spec"] = Calibration.Spec, ["sequences"] = Calibration.Sequences, ["length"] = Calibration.Length },
        ["eval_sequences_per_genre"] = EvalSequencesPerGenre,
        ["finetune"] = FineTune.ToJson(), ["finetune_growth"] = Growth,
        ["tasks"] = Strings(Tasks), ["task_limit"] = TaskLimit,
        ["instruction_tasks"] = Strings(InstructionTasks), ["instruction_limit"] = InstructionLimit, ["shots"] = Shots,
        ["sft_examples"] = SftExamples, ["sft_tokens"] = SftTokens,
        ["budget_multiples"] = new JsonArray(BudgetMultiples.Select(m => (JsonNode)m).ToArray()),
        ["recovery_drops"] = new JsonArray(RecoveryDrops.Select(d => (JsonNode)d).ToArray()),
        ["threads"] = Threads,
    };

    static JsonArray Strings(IEnumerable<string> s) => new(s.Select(x => (JsonNode)x).ToArray());
}
