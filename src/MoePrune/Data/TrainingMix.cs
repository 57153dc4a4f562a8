using System.Text.Json;
using System.Text.Json.Nodes;

namespace MoePrune.Data;

public enum MixSource { Brown, WordNetProse, Instructions }

/// <summary>One training document of the mix.</summary>
public sealed record MixDocument(string Id, MixSource Source, string Text);

public sealed record TrainingMixOptions
{
    public KnowledgeSetOptions Knowledge { get; init; } = new();
    public InstructionOptions Instructions { get; init; } = new();
    /// <summary>Knowledge-set entries written per WordNet prose document (one paragraph each).</summary>
    public int LemmasPerProseDocument { get; init; } = 20;
    /// <summary>
    /// Copies of the WordNet prose in the mix, each grouped into documents in its own seeded order: the knowledge
    /// set is small next to the Brown text, and a fact has to be read many times to be remembered.
    /// </summary>
    public int ProseRepeats { get; init; } = 3;

    /// <summary>The default mix with the given instruction options (null: the defaults).</summary>
    public static TrainingMixOptions WithInstructions(InstructionOptions? instructions) =>
        new() { Instructions = instructions ?? new InstructionOptions() };
}

/// <summary>
/// The training mix of the default model, deterministic given a seed: (1) every train-split Brown document as one
/// document, (2) the WordNet glosses of every knowledge-set lemma (held-out ones included) written as prose, and
/// (3) instruction-formatted examples about non-held-out lemmas and train passages (<see cref="InstructionBuilder"/>).
/// The seed orders documents and draws distractors and passages; the splits and the held-out set are fixed
/// (<see cref="BrownSplits.Default"/>, <see cref="KnowledgeSet.HeldOutSeed"/>).
/// </summary>
public sealed class TrainingMix
{
    public long Seed { get; }
    public KnowledgeSet Knowledge { get; }
    public IReadOnlyList<MixDocument> Brown { get; }
    public IReadOnlyList<MixDocument> WordNetProse { get; }
    public IReadOnlyList<InstructionExample> Instructions { get; }

    TrainingMix(long seed, KnowledgeSet knowledge, IReadOnlyList<MixDocument> brown, IReadOnlyList<MixDocument> prose,
                IReadOnlyList<InstructionExample> instructions)
    {
        Seed = seed;
        Knowledge = knowledge;
        Brown = brown;
        WordNetProse = prose;
        Instructions = instructions;
    }

    /// <summary>The instruction examples as documents (prompt + answer).</summary>
    public IEnumerable<MixDocument> InstructionDocuments =>
        Instructions.Select((e, i) => new MixDocument($"instr-{i:D5}-{e.Kind}", MixSource.Instructions, e.Text));

    /// <summary>Every document of the mix: Brown, then prose, then instructions.</summary>
    public IEnumerable<MixDocument> All => Brown.Concat(WordNetProse).Concat(InstructionDocuments);

    /// <summary>Every document of the mix in one seeded order (sources interleaved), e.g. for packing into sequences.</summary>
    public List<MixDocument> Shuffled() => StableHash.Shuffle(All, Seed, d => "mix:" + d.Id);

    /// <summary>Builds the mix from the installed corpora.</summary>
    public static TrainingMix Build(long seed, TrainingMixOptions? options = null)
    {
        options ??= new TrainingMixOptions();
        var corpus = BrownCorpus.Load();
        var wordNet = WordNet.Load();
        var knowledge = options.Knowledge == new KnowledgeSetOptions() ? KnowledgeSet.Default : KnowledgeSet.Build(corpus, wordNet, options.Knowledge);
        return Build(corpus, wordNet, BrownSplits.Default, knowledge, seed, options);
    }

    public static TrainingMix Build(BrownCorpus corpus, WordNet wordNet, BrownSplits splits, KnowledgeSet knowledge,
                                    long seed, TrainingMixOptions options)
    {
        var brown = StableHash.Shuffle(splits.Documents(corpus, CorpusSplit.Train), seed, d => "brown:" + d.Id)
                              .Select(d => new MixDocument("brown-" + d.Id, MixSource.Brown, d.Text)).ToList();
        var prose = Enumerable.Range(0, Math.Max(1, options.ProseRepeats))
                              .SelectMany(r => ProseDocuments(knowledge, seed, options.LemmasPerProseDocument, r)).ToList();
        var instructions = InstructionBuilder.Build(knowledge, wordNet, corpus, splits, seed, options.Instructions);
        return new TrainingMix(seed, knowledge, brown, prose, instructions);
    }

    /// <summary>
    /// Knowledge-set prose, one paragraph per lemma, <paramref name="perDocument"/> lemmas per document; copy
    /// <paramref name="copy"/> &gt; 0 uses its own lemma order (ids <c>wordnet-{copy}-{i}</c>).
    /// </summary>
    public static List<MixDocument> ProseDocuments(KnowledgeSet knowledge, long seed, int perDocument, int copy = 0)
    {
        string salt = copy == 0 ? "prose:" : $"prose{copy}:";
        string prefix = copy == 0 ? "wordnet-" : $"wordnet-{copy}-";
        var shuffled = StableHash.Shuffle(knowledge.Entries, seed, e => salt + e.Lemma);
        return shuffled.Chunk(Math.Max(1, perDocument))
                       .Select((chunk, i) => new MixDocument($"{prefix}{i:D4}", MixSource.WordNetProse,
                                                             string.Join("\n", chunk.Select(GlossProse.Write))))
                       .ToList();
    }

    /// <summary>Documents and characters per source, knowledge-set sizes and instruction counts per kind.</summary>
    public JsonObject Sizes()
    {
        JsonObject Source(IEnumerable<MixDocument> docs)
        {
            var list = docs.ToList();
            return new JsonObject { ["documents"] = list.Count, ["characters"] = list.Sum(d => (long)d.Text.Length) };
        }
        var kinds = new JsonObject();
        foreach (var g in Instructions.GroupBy(e => e.Kind).OrderBy(g => g.Key)) kinds[g.Key.ToString()] = g.Count();
        return new JsonObject
        {
            ["seed"] = Seed,
            ["brown"] = Source(Brown),
            ["wordnet_prose"] = Source(WordNetProse),
            ["instructions"] = Source(InstructionDocuments),
            ["instruction_kinds"] = kinds,
            ["knowledge_set"] = Knowledge.Entries.Count,
            ["held_out_lemmas"] = Knowledge.HeldOut.Count,
            ["total_characters"] = All.Sum(d => (long)d.Text.Length),
        };
    }

    /// <summary>
    /// Writes <c>brown.txt</c>, <c>wordnet_prose.txt</c>, <c>instructions.txt</c> (documents separated by a blank
    /// line), <c>instructions.jsonl</c> (kind, subject, prompt, answer) and <c>sizes.json</c> into
    /// <paramref name="dir"/>; each file is written under a temporary name and renamed when complete.
    /// </summary>
    public void WriteTexts(string dir)
    {
        Directory.CreateDirectory(dir);
        IO.AtomicFile.WriteLines(Path.Combine(dir, "brown.txt"), Brown.Select(d => d.Text + "\n"));
        IO.AtomicFile.WriteLines(Path.Combine(dir, "wordnet_prose.txt"), WordNetProse.Select(d => d.Text + "\n"));
        IO.AtomicFile.WriteLines(Path.Combine(dir, "instructions.txt"), Instructions.Select(e => e.Text + "\n"));
        IO.AtomicFile.WriteLines(Path.Combine(dir, "instructions.jsonl"), Instructions.Select(e => new JsonObject
        {
            ["kind"] = e.Kind.ToString(), ["subject"] = e.Subject, ["prompt"] = e.Prompt, ["answer"] = e.Answer,
        }.ToJsonString()));
        IO.AtomicFile.WriteText(Path.Combine(dir, "sizes.json"), Sizes().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
