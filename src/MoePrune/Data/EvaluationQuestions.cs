namespace MoePrune.Data;

/// <summary>
/// Evaluation questions in the instruction templates: definition → word over the HELD-OUT lemmas only (first
/// sense; distractors from other knowledge-set lemmas of the same part of speech), and genre over validation or
/// test Brown passages. Deterministic given the seed.
/// </summary>
public static class EvaluationQuestions
{
    public const long DefaultSeed = 101;

    public static List<InstructionExample> Definitions(KnowledgeSet knowledge, long seed = DefaultSeed)
    {
        var rng = new SeededRandom(seed, "eval-definitions");
        var pool = knowledge.Entries;
        return knowledge.HeldOut.Select(e => QuestionFactory.Definition(e, e.FirstSense, pool, rng)).ToList();
    }

    public static List<InstructionExample> Genres(BrownCorpus corpus, BrownSplits splits, CorpusSplit split,
                                                  int passagesPerDocument = 2, long seed = DefaultSeed)
    {
        if (split == CorpusSplit.Train)
            throw new MoePruneException("evaluation genre questions: use the validation or test split, not train");
        var rng = new SeededRandom(seed, $"eval-genre-{SplitManifest.Key(split)}");
        var questions = new List<InstructionExample>();
        foreach (var doc in splits.Documents(corpus, split))
            for (int k = 0; k < passagesPerDocument; k++)
                questions.Add(QuestionFactory.Genre(doc, rng));
        return questions;
    }
}
