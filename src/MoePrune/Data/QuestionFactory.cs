namespace MoePrune.Data;

/// <summary>
/// Builds the multiple-choice questions shared by the training mix (non-held-out lemmas, train passages) and the
/// evaluation sets (held-out lemmas, validation/test passages): distractors and option order come from a
/// <see cref="SeededRandom"/>, so a seed fixes every question.
/// </summary>
public static class QuestionFactory
{
    /// <summary>
    /// Definition → word for <paramref name="target"/>'s <paramref name="sense"/>: three distractors drawn from
    /// <paramref name="pool"/> entries of the same part of speech that are not lemmas of that sense (no synonyms).
    /// </summary>
    public static InstructionExample Definition(KnowledgeEntry target, WordNetSynset sense, IReadOnlyList<KnowledgeEntry> pool, SeededRandom rng)
    {
        var synonyms = sense.Lemmas.Select(l => WordNet.Display(l).ToLowerInvariant()).ToHashSet();
        var distractors = rng.Sample(pool, 3, e => e.Pos == target.Pos && e.Lemma != target.Lemma && !synonyms.Contains(e.Lemma)
                                                   && !e.Senses.Any(s => s.Offset == sense.Offset));
        if (distractors.Count < 3)
            throw new MoePruneException($"knowledge set: fewer than 3 distractors of part of speech {target.Pos} for '{target.Lemma}'");
        int answer = rng.Next(4);
        var words = distractors.Select(d => d.Lemma).ToList();
        words.Insert(answer, target.Lemma);
        return InstructionTemplates.DefinitionToWord(sense.Definition, target.Pos, words, answer);
    }

    /// <summary>"Which option is the noun dog?": three distractors of the same part of speech drawn from <paramref name="pool"/>.</summary>
    public static InstructionExample FindWord(KnowledgeEntry target, IReadOnlyList<KnowledgeEntry> pool, SeededRandom rng)
    {
        var distractors = rng.Sample(pool, 3, e => e.Pos == target.Pos && e.Lemma != target.Lemma);
        if (distractors.Count < 3)
            throw new MoePruneException($"knowledge set: fewer than 3 distractors of part of speech {target.Pos} for '{target.Lemma}'");
        int answer = rng.Next(4);
        var words = distractors.Select(d => d.Lemma).ToList();
        words.Insert(answer, target.Lemma);
        return InstructionTemplates.FindWord(target.Pos, words, answer);
    }

    /// <summary>Genre of a passage of <paramref name="document"/>, with three other genres as distractors.</summary>
    public static InstructionExample Genre(BrownDocument document, SeededRandom rng, int minWords = 60, int maxWords = 160)
    {
        string passage = Passage(document, rng, minWords, maxWords);
        var others = rng.Sample(BrownGenre.All, 3, g => g != document.Genre);
        int answer = rng.Next(4);
        others.Insert(answer, document.Genre);
        return InstructionTemplates.Genre(passage, others, answer, document.Id);
    }

    /// <summary>
    /// Consecutive sentences from a random start (crossing paragraph breaks), added until the passage has at least
    /// <paramref name="minWords"/> tokens; a sentence that would take it past <paramref name="maxWords"/> tokens
    /// ends it, unless it is the first sentence.
    /// </summary>
    public static string Passage(BrownDocument document, SeededRandom rng, int minWords, int maxWords)
    {
        var sentences = document.Paragraphs.SelectMany((p, i) => p.Select(s => (Paragraph: i, Sentence: s))).ToList();
        int start = rng.Next(Math.Max(1, sentences.Count - 5));
        var taken = new List<(int Paragraph, BrownSentence Sentence)>();
        int words = 0;
        for (int i = start; i < sentences.Count && words < minWords; i++)
        {
            int n = sentences[i].Sentence.Words.Count;
            if (taken.Count > 0 && words + n > maxWords) break;
            taken.Add(sentences[i]);
            words += n;
        }
        // Each paragraph's part is detokenized on its own, as in BrownDocument.Text (paragraphs joined by a space here).
        return string.Join(" ", taken.GroupBy(t => t.Paragraph).Select(g => BrownDetokenizer.Join(g.Select(t => t.Sentence))));
    }
}
