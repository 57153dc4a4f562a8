using System.Buffers.Binary;
using MoePrune.Data;
using MoePrune.Tokenization;

namespace MoePrune.Training.Pretrain;

/// <summary>
/// The data of a pretraining run: the byte-level BPE tokenizer (trained with <see cref="BpeTrainer"/> on the
/// training mix — train split only — or reused from the work folder), the mix's documents in their seeded
/// order joined by the end-of-text token into one stream, (evaluation data: <see cref="Evaluation.GenrePerplexity"/>).
/// The token stream is cached in the work folder (<c>train_tokens.bin</c>, int32 little-endian).
/// </summary>
public sealed class PretrainCorpus
{
    public const string TokenCacheFile = "train_tokens.bin";
    /// <summary>One line naming the mix (seed and instruction options) that the work folder's tokenizer and tokens come from.</summary>
    public const string MixStampFile = "mix.txt";

    private PretrainCorpus(HfTokenizer tokenizer, string tokenizerDir, int[] trainTokens)
    {
        Tokenizer = tokenizer;
        TokenizerDir = tokenizerDir;
        TrainTokens = trainTokens;
    }

    public HfTokenizer Tokenizer { get; }
    /// <summary>The folder holding tokenizer.json and tokenizer_config.json.</summary>
    public string TokenizerDir { get; }
    public int[] TrainTokens { get; }
    public int EndOfText => Tokenizer.EosId ?? throw new MoePruneException($"{TokenizerDir}: tokenizer has no eos_token");

    /// <summary>Builds (or reuses from <paramref name="workDir"/>) the tokenizer and the training token stream.</summary>
    public static PretrainCorpus Prepare(string workDir, int vocabSize, long seed, Action<string>? log = null, InstructionOptions? instructions = null)
    {
        var mixOptions = TrainingMixOptions.WithInstructions(instructions);
        Directory.CreateDirectory(workDir);
        string stampPath = Path.Combine(workDir, MixStampFile), stamp = MixStamp(seed, mixOptions.Instructions);
        if (File.Exists(stampPath) && File.ReadAllText(stampPath).Trim() is var built && built != stamp)
            throw new MoePruneException($"{stampPath}: this work folder holds the tokens of mix \"{built}\", not \"{stamp}\"; use a fresh --work folder");
        string tokenizerDir = Path.Combine(workDir, "tokenizer");
        TrainingMix? mix = null;
        if (!File.Exists(Path.Combine(tokenizerDir, "tokenizer.json")))
        {
            log?.Invoke("building the training mix");
            mix = TrainingMix.Build(seed, mixOptions);
            log?.Invoke($"training a {vocabSize}-token byte-level BPE on {mix.All.Count()} documents");
            var trained = new BpeTrainer(new BpeTrainerOptions { VocabSize = vocabSize }).Train(mix.All.Select(d => d.Text));
            trained.Save(tokenizerDir);
        }
        var tokenizer = HfTokenizer.Load(tokenizerDir);
        if (tokenizer.VocabSize != vocabSize)
            throw new MoePruneException($"{tokenizerDir}: tokenizer has {tokenizer.VocabSize} tokens, --vocab-size is {vocabSize}");
        string cache = Path.Combine(workDir, TokenCacheFile);
        int[] tokens;
        if (File.Exists(cache)) tokens = ReadTokens(cache);
        else
        {
            mix ??= TrainingMix.Build(seed, mixOptions);
            log?.Invoke("tokenizing the training mix");
            var corpus = new PretrainCorpus(tokenizer, tokenizerDir, []);
            tokens = corpus.Stream(mix.Shuffled().Select(d => d.Text));
            WriteTokens(cache, tokens);
        }
        if (!File.Exists(stampPath)) File.WriteAllText(stampPath, stamp + "\n");
        return new PretrainCorpus(tokenizer, tokenizerDir, tokens);
    }

    /// <summary>The seed and every instruction option, on one line.</summary>
    public static string MixStamp(long seed, InstructionOptions o) =>
        $"seed {seed}, definition questions {o.DefinitionQuestionsPerLemma} (senses {o.DefinitionSensesPerLemma}), find-word questions " +
        $"{o.FindWordQuestionsPerLemma}, word to definition {o.WordToDefinition}, hypernyms {o.Hypernyms}, genre passages {o.GenrePassagesPerDocument}";

    /// <summary>Loads only the tokenizer of a trained model (for evaluation).</summary>
    public static PretrainCorpus ForTokenizer(string tokenizerDir) => new(HfTokenizer.Load(tokenizerDir), tokenizerDir, []);

    /// <summary>Each text's tokens followed by the end-of-text token, concatenated.</summary>
    public int[] Stream(IEnumerable<string> texts)
    {
        var all = new List<int>();
        foreach (var text in texts)
        {
            all.AddRange(Tokenizer.Encode(text, addSpecialTokens: false));
            all.Add(EndOfText);
        }
        return all.ToArray();
    }

    /// <summary>Consecutive pieces of <paramref name="length"/> tokens; a last piece shorter than 2 tokens is dropped.</summary>
    public static IEnumerable<int[]> Cut(int[] tokens, int length)
    {
        for (int start = 0; start + 2 <= tokens.Length; start += length)
            yield return tokens.AsSpan(start, Math.Min(length, tokens.Length - start)).ToArray();
    }

    static int[] ReadTokens(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length % 4 != 0) throw new MoePruneException($"{path}: length {bytes.Length} is not a multiple of 4");
        var tokens = new int[bytes.Length / 4];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4 * i));
        return tokens;
    }

    static void WriteTokens(string path, int[] tokens)
    {
        var bytes = new byte[tokens.Length * 4L];
        for (int i = 0; i < tokens.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * i), tokens[i]);
        IO.AtomicFile.Write(path, s => s.Write(bytes));
    }
}
