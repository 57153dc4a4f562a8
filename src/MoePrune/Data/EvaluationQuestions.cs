namespace MoePrune.Data;

/// <summary>
/// Evaluation questions in the instruction templates: definition → word over the HELD-OUT lemmas only (first
/// sense; distractors from other HELD-OUT lemmas of the same part of speech), and genre over validation or test
/// Brown passages. Deterministic given the seed.
/// <para>
/// The distractors are held-out lemmas too, so that all four options are words the instruction examples never
/// use: with distractors from the whole knowledge set, about 70% of them were trainable lemmas that the training
/// questions present as answers, and a model's familiarity with those words, not its knowledge, moved its score
/// (a lettered-trained run scored 64/400 = 16% in cloze form on the mixed options, i.e. below chance, and
/// 300/1,200 = 25.0% on held-out-only options; models/default/MODEL_CARD.md, notes).
/// </para>
/// </summary>
public static class EvaluationQuestions
{
    public const long DefaultSeed = 101;

    public static List<InstructionExample> Definitions(KnowledgeSet knowledge, long seed = DefaultSeed)
    {
        var rng = new SeededRandom(seed, "eval-definitions");
        var pool = knowledge.HeldOut;
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
