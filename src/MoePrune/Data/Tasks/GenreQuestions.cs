namespace MoePrune.Data.Tasks;

/// <summary>
/// The built-in genre questions: passages of Brown TEST-split documents (<see cref="PassagesPerDocument"/> per
/// document; 60-160 words, as in the training mix), 4 genres as options (the right one and 3 others, seeded).
/// One passage of each VALIDATION-split document is added with split <c>train</c>: demonstrations for k-shot
/// prompts, so that a demonstration never comes from the scored passage's own document. Cloze form:
/// <c>Passage: "…"\nKind of text:</c> + the genre's name.
/// </summary>
public static class GenreQuestions
{
    public const int PassagesPerDocument = 4;

    public static List<BuiltinQuestion> Build(BrownCorpus corpus, BrownSplits splits)
    {
        var questions = new List<BuiltinQuestion>();
        var rng = new SeededRandom(EvaluationQuestions.DefaultSeed, "eval-genre-tasks");
        foreach (var doc in splits.Documents(corpus, CorpusSplit.Test))
            for (int k = 0; k < PassagesPerDocument; k++)
                questions.Add(Question(doc, $"{doc.Id}-{k}", "test", rng));
        var demoRng = new SeededRandom(EvaluationQuestions.DefaultSeed, "eval-genre-demonstrations");
        foreach (var doc in splits.Documents(corpus, CorpusSplit.Validation))
            questions.Add(Question(doc, $"{doc.Id}-0", "train", demoRng));
        return questions;
    }

    static BuiltinQuestion Question(BrownDocument doc, string id, string split, SeededRandom rng)
    {
        string passage = QuestionFactory.Passage(doc, rng, 60, 160);
        var genres = rng.Sample(BrownGenre.All, 3, g => g != doc.Genre);
        int gold = rng.Next(4);
        genres.Insert(gold, doc.Genre);
        var names = genres.Select(g => g.DisplayName).ToList();
        string prompt = InstructionTemplates.Genre(passage, genres, gold, doc.Id).Prompt;
        return new BuiltinQuestion(id, $"Passage: \"{passage}\"\nKind of text:", names, prompt, names, gold, split);
    }
}
