namespace MoePrune.Data.Tasks;

/// <summary>
/// The built-in WordNet questions, all about held-out lemmas (first sense), 4 options each, options and letters
/// drawn with seeded streams (<see cref="EvaluationQuestions.DefaultSeed"/>):
/// <list type="bullet">
/// <item>definition → word: <see cref="EvaluationQuestions.Definitions"/> (the questions of the model card);
/// cloze <c>The noun that means "…" is</c> + <c>"dog".</c>, the sentence the knowledge prose writes definition first.</item>
/// <item>word → definition: distractors are other held-out lemmas' first definitions of the same part of speech;
/// cloze is the prose's first sentence (<c>A dog is</c> + <c>a member of the genus Canis.</c>).</item>
/// <item>hypernym (nouns and verbs with one): the first lemma of the first hypernym; distractors are other held-out
/// lemmas' hypernyms of the same part of speech that are not an ancestor of the word (nor one of its synonyms);
/// cloze <c>A dog is a kind of</c> + <c>canine.</c> / <c>To run is a way to</c> + <c>travel.</c>.</item>
/// </list>
/// </summary>
public static class KnowledgeQuestions
{
    const string Marker = "\uE000";

    public static List<BuiltinQuestion> DefinitionToWord(KnowledgeSet knowledge)
    {
        var entries = knowledge.HeldOut.ToDictionary(e => e.Lemma);
        return EvaluationQuestions.Definitions(knowledge).Select(q =>
        {
            var e = entries[q.Subject];
            string prefix = GlossProse.ReversePrefix(e.Pos, e.FirstSense.Definition);     // … is "
            string context = prefix[..^1].TrimEnd();
            var choices = q.Options.Select(o => $"\"{o}{GlossProse.ReverseSuffix}").ToList();
            return new BuiltinQuestion(e.Lemma, context, choices, q.Prompt, q.Options, q.AnswerIndex);
        }).ToList();
    }

    public static List<BuiltinQuestion> WordToDefinition(KnowledgeSet knowledge)
    {
        var rng = new SeededRandom(EvaluationQuestions.DefaultSeed, "eval-word2def");
        var pool = knowledge.HeldOut;
        var questions = new List<BuiltinQuestion>();
        foreach (var e in pool)
        {
            var sense = e.FirstSense;
            var synonyms = sense.Lemmas.Select(l => WordNet.Display(l).ToLowerInvariant()).ToHashSet();
            var used = new HashSet<string> { sense.Definition };
            var distractors = rng.Sample(pool, 3, d => d.Pos == e.Pos && d.Lemma != e.Lemma && !synonyms.Contains(d.Lemma)
                                                       && !e.Senses.Any(s => s.Offset == d.FirstSense.Offset) && used.Add(d.FirstSense.Definition));
            if (distractors.Count < 3) continue;
            int answer = rng.Next(4);
            var definitions = distractors.Select(d => d.FirstSense.Definition).ToList();
            definitions.Insert(answer, sense.Definition);
            string sentence = GlossProse.Sentence(e.Lemma, e.Pos, Marker, first: true);
            int at = sentence.IndexOf(Marker, StringComparison.Ordinal);
            string context = sentence[..at].TrimEnd(), suffix = sentence[(at + Marker.Length)..];
            var choices = definitions.Select(d => d.TrimEnd('.', ' ') + suffix).ToList();
            string question = BuiltinQuestion.QuestionLine(InstructionTemplates.WordToDefinition(e.Lemma, e.Pos, sense.Definition));
            questions.Add(new BuiltinQuestion(e.Lemma, context, choices, BuiltinQuestion.Lettered(question, definitions), definitions, answer));
        }
        return questions;
    }

    public static List<BuiltinQuestion> Hypernym(KnowledgeSet knowledge, WordNet wordNet)
    {
        var rng = new SeededRandom(EvaluationQuestions.DefaultSeed, "eval-hypernym");
        var asked = knowledge.HeldOut
            .Where(e => e.Pos is WordNetPos.Noun or WordNetPos.Verb && wordNet.Hypernyms(e.FirstSense).Count > 0)
            .Select(e => (Entry: e, Answer: WordNet.Display(wordNet.Hypernyms(e.FirstSense)[0].Lemmas[0])))
            .ToList();
        var questions = new List<BuiltinQuestion>();
        foreach (var (e, answer) in asked)
        {
            var excluded = Ancestors(e.FirstSense, wordNet).SelectMany(s => s.Words).Concat(e.FirstSense.Words)
                                                           .Select(w => w.ToLowerInvariant()).ToHashSet();
            excluded.Add(e.Lemma);
            var pool = asked.Where(x => x.Entry.Pos == e.Pos).Select(x => x.Answer).Distinct().ToList();
            var distractors = rng.Sample(pool, 3, w => !excluded.Contains(w.ToLowerInvariant()));
            if (distractors.Count < 3) continue;
            int gold = rng.Next(4);
            var options = distractors.ToList();
            options.Insert(gold, answer);
            string word = WordNet.Display(e.Lemma);
            string context = e.Pos == WordNetPos.Verb
                ? $"To {word} is a way to"
                : $"{GlossProse.Capitalize(GlossProse.IndefiniteArticle(word))} {word} is a kind of";
            var choices = options.Select(o => o + ".").ToList();
            string question = BuiltinQuestion.QuestionLine(InstructionTemplates.Hypernym(e.Lemma, e.Pos, answer));
            questions.Add(new BuiltinQuestion(e.Lemma, context, choices, BuiltinQuestion.Lettered(question, options), options, gold));
        }
        return questions;
    }

    /// <summary>Every synset above <paramref name="sense"/> (all hypernym paths).</summary>
    static HashSet<WordNetSynset> Ancestors(WordNetSynset sense, WordNet wordNet)
    {
        var seen = new HashSet<WordNetSynset>();
        var stack = new Stack<WordNetSynset>(wordNet.Hypernyms(sense));
        while (stack.Count > 0)
        {
            var s = stack.Pop();
            if (!seen.Add(s)) continue;
            foreach (var h in wordNet.Hypernyms(s)) stack.Push(h);
        }
        return seen;
    }
}
