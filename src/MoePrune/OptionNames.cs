namespace MoePrune;

/// <summary>
/// How user-facing errors name the settings of a request. The library's own names are neutral words
/// ("drop: -1 must not be negative"); a front end supplies its spellings (the CLI maps "drop" to "--drop"),
/// so the same checks read naturally wherever they run.
/// </summary>
public sealed class OptionNames(IReadOnlyDictionary<string, string> names)
{
    public const string Drop = "drop";
    public const string Keep = "keep";
    public const string Ratio = "ratio";
    public const string Protect = "protect";
    public const string Global = "global";
    public const string Criterion = "criterion";
    public const string Criteria = "criteria";
    public const string Scores = "scores";
    public const string KeepMap = "keep-map";
    public const string BatchSize = "batch-size";
    public const string InputSampleRows = "input-sample-rows";
    public const string SubsetKeep = "subset-keep";
    public const string SaveStats = "save-stats";
    public const string MergeStats = "merge-stats";
    public const string Ratios = "ratios";
    public const string CalibrationSeeds = "calibration-seeds";
    public const string RandomSeeds = "random-seeds";
    public const string EvalSequences = "eval-sequences";
    public const string Out = "out";
    public const string Force = "force";
    public const string DropMtp = "drop-mtp";

    /// <summary>The library's own names (each setting's key).</summary>
    public static OptionNames Neutral { get; } = new(new Dictionary<string, string>());

    /// <summary>The caller's spelling of <paramref name="setting"/> (one of the constants), or the key itself.</summary>
    public string this[string setting] => names.TryGetValue(setting, out var name) ? name : setting;

    /// <summary>These names with <paramref name="setting"/> spelled as <paramref name="name"/> (e.g. a command whose keep count has its own option).</summary>
    public OptionNames With(string setting, string name) =>
        new(new Dictionary<string, string>(names) { [setting] = name });

    /// <summary>"a, b or c" in the caller's spelling.</summary>
    public string OneOf(params string[] settings) =>
        settings.Length == 1 ? this[settings[0]] : string.Join(", ", settings[..^1].Select(s => this[s])) + " or " + this[settings[^1]];
}
