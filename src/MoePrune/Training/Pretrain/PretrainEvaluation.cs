using System.Text.Json.Nodes;
using MoePrune.Data;
using MoePrune.Evaluation;
using MoePrune.Models;
using MoePrune.Tokenization;

namespace MoePrune.Training.Pretrain;

/// <summary>
/// The statistics of a model card for a pretrained model: per-genre perplexity on a fixed subset of the Brown
/// validation split (the first <see cref="ValidationPerGenre"/> sequences of each genre) against the unigram
/// baseline on the same tokens, the test-subset perplexity the tests recompute (first <see cref="TestPerGenre"/>
/// sequences per genre), the expert load per layer and the mutual information between expert choice and genre
/// and between expert choice and part of speech (<see cref="PosRouting"/>), each versus shuffled routing, on
/// the validation subset, and held-out 4-choice definition → word accuracy.
/// </summary>
public static class PretrainEvaluation
{
    public const int ValidationPerGenre = 16;
    public const int TestPerGenre = 2;
    public const int SequenceLength = 256;
    public const int DefinitionQuestions = 400;
    /// <summary>Lettered definition → word examples of the training mix asked again (did the format itself get learned?).</summary>
    public const int SeenQuestions = 200;

    /// <summary>Mean NLL of the test subset (documented in the model card; recomputed by the tests).</summary>
    public static PerplexityResult TestSubset(MoeForCausalLM model, HfTokenizer tokenizer) =>
        GenrePerplexity.Evaluate(model, GenrePerplexity.Sequences(tokenizer, CorpusSplit.Test, SequenceLength, TestPerGenre))[^1].Result;

    public static JsonObject Run(MoeForCausalLM model, HfTokenizer tokenizer, IReadOnlyList<int> trainTokens, long mixSeed, Action<string>? log = null,
                                 InstructionOptions? instructions = null)
    {
        var json = new JsonObject();
        log?.Invoke("evaluating: validation subset per genre with expert load");
        var validation = GenrePerplexity.Sequences(tokenizer, CorpusSplit.Validation, SequenceLength, ValidationPerGenre);
        var load = new ExpertLoad();
        model.Observers.Add(load);
        var perGenre = new List<GenreResult>();
        for (int g = 0; g < validation.Count; g++)
        {
            load.CurrentLabel = g;
            perGenre.Add(GenrePerplexity.Evaluate(model, [validation[g]])[0]);
        }
        model.Observers.Remove(load);
        var unigram = new UnigramBaseline(trainTokens, tokenizer.VocabSize);
        var genres = new JsonObject();
        double sum = 0, uniSum = 0;
        long tokens = 0;
        for (int g = 0; g < validation.Count; g++)
        {
            var u = unigram.Evaluate(validation[g].Sequences);
            var r = perGenre[g].Result;
            genres[perGenre[g].Genre] = new JsonObject
            {
                ["tokens"] = r.Tokens, ["perplexity"] = r.Perplexity, ["unigram_perplexity"] = u.Perplexity,
            };
            sum += r.MeanNll * r.Tokens;
            uniSum += u.MeanNll * u.Tokens;
            tokens += r.Tokens;
        }
        double ppl = Math.Exp(sum / tokens), uni = Math.Exp(uniSum / tokens);
        json["validation_subset"] = new JsonObject
        {
            ["sequences_per_genre"] = ValidationPerGenre, ["sequence_length"] = SequenceLength, ["tokens"] = tokens,
            ["perplexity"] = ppl, ["unigram_perplexity"] = uni, ["ratio_to_unigram"] = ppl / uni, ["per_genre"] = genres,
        };
        var layers = new JsonObject();
        foreach (int layer in load.Layers)
        {
            var counts = load.LabelCounts(layer, validation.Count);
            layers[layer.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["fractions"] = new JsonArray(load.Fractions(layer).Select(f => (JsonNode)Math.Round(f, 4)).ToArray()),
                ["min_fraction"] = load.Fractions(layer).Min(),
                ["mi_genre_bits"] = MutualInformation.Bits(counts),
                ["mi_genre_shuffled_bits"] = MutualInformation.ShuffledBits(counts, rounds: 3),
            };
        }
        log?.Invoke("evaluating: expert choice against part of speech");
        var posCounts = PosRouting.Counts(model, PosRouting.Sequences(tokenizer, CorpusSplit.Validation, SequenceLength, ValidationPerGenre));
        foreach (var (layer, counts) in posCounts)
        {
            var node = layers[layer.ToString(System.Globalization.CultureInfo.InvariantCulture)]!.AsObject();
            node["mi_pos_bits"] = MutualInformation.Bits(counts);
            node["mi_pos_shuffled_bits"] = MutualInformation.ShuffledBits(counts, rounds: 3);
        }
        json["expert_load"] = layers;
        log?.Invoke("evaluating: test subset");
        var test = TestSubset(model, tokenizer);
        json["test_subset"] = new JsonObject
        {
            ["sequences_per_genre"] = TestPerGenre, ["tokens"] = test.Tokens, ["mean_nll"] = test.MeanNll, ["perplexity"] = test.Perplexity,
        };
        log?.Invoke($"evaluating: {DefinitionQuestions} held-out definition → word questions");
        var questions = EvaluationQuestions.Definitions(KnowledgeSet.Default).Take(DefinitionQuestions).ToList();
        var accuracy = DefinitionAccuracy.Evaluate(model, tokenizer, questions);
        json["definition_to_word"] = new JsonObject
        {
            ["questions"] = accuracy.Questions, ["correct"] = accuracy.Correct, ["accuracy"] = accuracy.Accuracy, ["chance"] = 0.25,
        };
        log?.Invoke($"evaluating: the same questions in cloze form, and {SeenQuestions} lettered questions from the training mix");
        var cloze = DefinitionCloze.Evaluate(model, tokenizer, questions, KnowledgeSet.Default);
        var seen = TrainingMix.Build(mixSeed, TrainingMixOptions.WithInstructions(instructions)).Instructions.Where(e => e.Kind == InstructionKind.DefinitionToWord).Take(SeenQuestions).ToList();
        var seenAccuracy = DefinitionAccuracy.Evaluate(model, tokenizer, seen);
        json["definition_to_word_cloze"] = new JsonObject
        {
            ["questions"] = cloze.Questions, ["correct"] = cloze.Correct, ["accuracy"] = cloze.Accuracy, ["chance"] = 0.25,
        };
        json["definition_to_word_seen"] = new JsonObject
        {
            ["questions"] = seenAccuracy.Questions, ["correct"] = seenAccuracy.Correct, ["accuracy"] = seenAccuracy.Accuracy,
            ["chance"] = 0.25, ["mix_seed"] = mixSeed,
        };
        return json;
    }
}
