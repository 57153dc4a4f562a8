namespace MoePrune.Data;

public sealed record InstructionOptions
{
    /// <summary>
    /// Definition → word questions per non-held-out lemma, taking its first senses in turn (first, second,
    /// first, …; <see cref="DefinitionSensesPerLemma"/>), each question with its own distractors and answer letter.
    /// </summary>
    public int DefinitionQuestionsPerLemma { get; init; } = 1;
    /// <summary>How many of a lemma's senses the definition questions cycle through.</summary>
    public int DefinitionSensesPerLemma { get; init; } = 2;
    /// <summary>"Which option is the noun dog?" questions per non-held-out lemma (<see cref="InstructionKind.FindWord"/>).</summary>
    public int FindWordQuestionsPerLemma { get; init; } = 0;
    public bool WordToDefinition { get; init; } = true;
    public bool Hypernyms { get; init; } = true;
    /// <summary>Genre questions per train-split Brown document.</summary>
    public int GenrePassagesPerDocument { get; init; } = 2;

    /// <summary>Throws, naming the command-line options, for negative question counts.</summary>
    public void Validate()
    {
        if (DefinitionQuestionsPerLemma < 0 || FindWordQuestionsPerLemma < 0)
            throw new MoePruneException("--definition-questions and --find-word-questions must be >= 0");
    }
}

/// <summary>
/// The instruction-formatted portion of the training mix. Only non-held-out lemmas are asked about or offered as
/// options, no sense written for a held-out lemma is shown (synonyms share senses), hypernym answers are never
/// held-out lemmas, and genre passages come from train-split documents only. (A held-out lemma may still occur as
/// an ordinary word inside another lemma's definition or a passage, as it does in the Brown text.)
/// </summary>
public static class InstructionBuilder
{
    public static List<InstructionExample> Build(KnowledgeSet knowledge, WordNet wordNet, BrownCorpus corpus, BrownSplits splits,
                                                 long seed, InstructionOptions options)
    {
        var examples = new List<InstructionExample>();
        var trainable = knowledge.Trainable.ToList();
        var rng = new SeededRandom(seed, "instructions");
        foreach (var entry in trainable)
        {
            var senses = entry.Senses.Where(s => !knowledge.IsHeldOutSense(s)).ToList();
            if (senses.Count == 0) continue;
            var asked = senses.Take(Math.Max(1, options.DefinitionSensesPerLemma)).ToList();
            for (int q = 0; q < options.DefinitionQuestionsPerLemma; q++)
                examples.Add(QuestionFactory.Definition(entry, asked[q % asked.Count], trainable, rng));
            for (int q = 0; q < options.FindWordQuestionsPerLemma; q++)
                examples.Add(QuestionFactory.FindWord(entry, trainable, rng));
            if (options.WordToDefinition)
                examples.Add(InstructionTemplates.WordToDefinition(entry.Lemma, entry.Pos, senses[0].Definition));
            if (options.Hypernyms && HypernymWord(entry, senses[0], wordNet, knowledge) is { } hypernym)
                examples.Add(InstructionTemplates.Hypernym(entry.Lemma, entry.Pos, hypernym));
        }
        foreach (var doc in splits.Documents(corpus, CorpusSplit.Train))
            for (int k = 0; k < options.GenrePassagesPerDocument; k++)
                examples.Add(QuestionFactory.Genre(doc, rng));
        return StableHash.Shuffle(examples.Select((e, i) => (e, i)), seed, x => $"instr{x.i}").Select(x => x.e).ToList();
    }

    /// <summary>The first lemma of the sense's first hypernym (nouns and verbs), unless that lemma is held out.</summary>
    public static string? HypernymWord(KnowledgeEntry entry, WordNetSynset sense, WordNet wordNet, KnowledgeSet knowledge)
    {
        if (entry.Pos is not (WordNetPos.Noun or WordNetPos.Verb)) return null;
        var hyper = wordNet.Hypernyms(sense).FirstOrDefault();
        if (hyper == null) return null;
        string word = hyper.Lemmas[0];
        return knowledge.IsHeldOut(WordNet.Display(word).ToLowerInvariant()) || knowledge.IsHeldOutSense(hyper) ? null : word;
    }
}
