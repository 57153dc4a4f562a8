namespace MoePrune.Data;

/// <summary>A coarse part-of-speech tag set in the spirit of Petrov, Das &amp; McDonald's universal tags.</summary>
public enum UniversalTag { Noun, Verb, Adj, Adv, Pron, Det, Adp, Num, Conj, Prt, Punct, X }

/// <summary>
/// Maps a Brown tag to a <see cref="UniversalTag"/>. A Brown tag is a base tag with decorations that do not change
/// the word class: suffixes <c>-tl</c> (in a title), <c>-hl</c> (in a headline), <c>-nc</c> (cited word), a
/// trailing <c>*</c> (negated, e.g. <c>didn't</c> = <c>dod*</c>) or <c>$</c> (possessive); contractions join two
/// tags with <c>+</c> (<c>pps+bez</c> = "it's") and take the class of the first part. Foreign words
/// (<c>fw-</c>) and unknown tags are <see cref="UniversalTag.X"/>. The mapping:
/// <list type="bullet">
/// <item>Noun: nn, nns, np, nps, nr, nrs (common, proper, adverbial nouns)</item>
/// <item>Verb: vb*, be*, hv*, do*, md (main verbs, forms of be/have/do, modals)</item>
/// <item>Adj: jj, jjr, jjs, jjt, od (adjectives, ordinals)</item>
/// <item>Adv: rb, rbr, rbt, rn, ql, qlp, abl, wrb, wql, <c>*</c> ("not", "n't")</item>
/// <item>Pron: pn, pp$, pp$$, ppl, ppls, ppo, pps, ppss, wp$, wpo, wps, ex</item>
/// <item>Det: at, abn, abx, ap, dt, dti, dts, dtx, wdt</item>
/// <item>Adp: in; Num: cd; Conj: cc, cs; Prt: rp, to</item>
/// <item>Punct: <c>. , : ( ) `` '' ' --</c></item>
/// <item>X: uh (interjections), nil, fw-*</item>
/// </list>
/// </summary>
public static class UniversalTagset
{
    static readonly Dictionary<string, UniversalTag> Base = new()
    {
        ["nn"] = UniversalTag.Noun, ["nns"] = UniversalTag.Noun, ["np"] = UniversalTag.Noun, ["nps"] = UniversalTag.Noun,
        ["nr"] = UniversalTag.Noun, ["nrs"] = UniversalTag.Noun,
        ["md"] = UniversalTag.Verb,
        ["jj"] = UniversalTag.Adj, ["jjr"] = UniversalTag.Adj, ["jjs"] = UniversalTag.Adj, ["jjt"] = UniversalTag.Adj,
        ["od"] = UniversalTag.Adj,
        ["rb"] = UniversalTag.Adv, ["rbr"] = UniversalTag.Adv, ["rbt"] = UniversalTag.Adv, ["rn"] = UniversalTag.Adv,
        ["ql"] = UniversalTag.Adv, ["qlp"] = UniversalTag.Adv, ["abl"] = UniversalTag.Adv, ["wrb"] = UniversalTag.Adv,
        ["wql"] = UniversalTag.Adv, ["*"] = UniversalTag.Adv,
        ["pn"] = UniversalTag.Pron, ["pp"] = UniversalTag.Pron, ["ppl"] = UniversalTag.Pron, ["ppls"] = UniversalTag.Pron,
        ["ppo"] = UniversalTag.Pron, ["pps"] = UniversalTag.Pron, ["ppss"] = UniversalTag.Pron, ["wp"] = UniversalTag.Pron,
        ["wpo"] = UniversalTag.Pron, ["wps"] = UniversalTag.Pron, ["ex"] = UniversalTag.Pron,
        ["at"] = UniversalTag.Det, ["abn"] = UniversalTag.Det, ["abx"] = UniversalTag.Det, ["ap"] = UniversalTag.Det,
        ["dt"] = UniversalTag.Det, ["dti"] = UniversalTag.Det, ["dts"] = UniversalTag.Det, ["dtx"] = UniversalTag.Det,
        ["wdt"] = UniversalTag.Det,
        ["in"] = UniversalTag.Adp, ["cd"] = UniversalTag.Num, ["cc"] = UniversalTag.Conj, ["cs"] = UniversalTag.Conj,
        ["rp"] = UniversalTag.Prt, ["to"] = UniversalTag.Prt,
        ["."] = UniversalTag.Punct, [","] = UniversalTag.Punct, [":"] = UniversalTag.Punct, ["("] = UniversalTag.Punct,
        [")"] = UniversalTag.Punct, ["``"] = UniversalTag.Punct, ["''"] = UniversalTag.Punct, ["'"] = UniversalTag.Punct,
        ["--"] = UniversalTag.Punct,
        ["uh"] = UniversalTag.X, ["nil"] = UniversalTag.X,
    };

    static readonly string[] VerbPrefixes = ["vb", "be", "hv", "do"];

    public static UniversalTag Map(string brownTag)
    {
        string tag = BaseTag(brownTag);
        if (tag.StartsWith("fw-", StringComparison.Ordinal)) return UniversalTag.X;
        int plus = tag.IndexOf('+');
        if (plus > 0) tag = tag[..plus];
        if (tag.Length > 1) tag = tag.TrimEnd('$');
        if (tag.Length > 1) tag = tag.TrimEnd('*');
        if (Base.TryGetValue(tag, out var u)) return u;
        if (VerbPrefixes.Any(p => tag.StartsWith(p, StringComparison.Ordinal)) && tag.Length <= 4) return UniversalTag.Verb;
        return UniversalTag.X;
    }

    /// <summary>The tag without its <c>-tl</c>, <c>-hl</c>, <c>-nc</c> suffixes (<c>nn-tl-hl</c> → <c>nn</c>).</summary>
    public static string BaseTag(string brownTag)
    {
        string tag = brownTag;
        while (true)
        {
            if (tag.Length > 3 && (tag.EndsWith("-tl", StringComparison.Ordinal) || tag.EndsWith("-hl", StringComparison.Ordinal)
                                   || tag.EndsWith("-nc", StringComparison.Ordinal)))
                tag = tag[..^3];
            else return tag;
        }
    }
}
