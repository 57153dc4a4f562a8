// The find-the-word probe (see README.md): trains a small MoE on lettered find-the-word questions only and reports
// lettered accuracy on fresh ones.
using MoePrune.Data;
using MoePrune.Evaluation;
using MoePrune.Tokenization;
using MoePrune.Training;
using MoePrune.Training.Pretrain;
using static TorchSharp.torch;

if (args.Length < 5)
{
    Console.Error.WriteLine("usage: TOKENIZER_DIR STEPS ANSWER_WEIGHT HIDDEN LAYERS [LR]");
    return 2;
}
MoePrune.Native.TorchNative.EnsureLoaded();
set_num_threads(1);
var tok = HfTokenizer.Load(args[0]);
var trainable = KnowledgeSet.Default.Trainable.ToList();
var rng = new SeededRandom(7, "diag");
int eos = tok.EosId!.Value;
var stream = new List<int>();
for (int i = 0; i < 60000; i++)
{
    stream.AddRange(tok.Encode(QuestionFactory.FindWord(trainable[i % trainable.Count], trainable, rng).Text, addSpecialTokens: false));
    stream.Add(eos);
}
Console.WriteLine($"{stream.Count} tokens");
var options = new PretrainOptions
{
    HiddenSize = int.Parse(args[3]), Layers = int.Parse(args[4]), Heads = 4, KeyValueHeads = 2, Experts = 8, TopK = 2, ExpertSize = 256,
    VocabSize = tok.VocabSize, SequenceLength = 256, BatchSize = 8, Steps = int.Parse(args[1]), WarmupSteps = 20,
    Optimizer = new() { LearningRate = args.Length > 5 ? double.Parse(args[5]) : 3e-3 }, AuxLossCoef = 0.05, AuxPerLayer = true, EvalEvery = 0, Seed = 1,
};
var marker = tok.Encode(InstructionTemplates.AnswerMarker + "\n", addSpecialTokens: false).Select(i => (long)i).ToList();
ITrainingData data = new PackedDataset(stream.ToArray(), options.SequenceLength, options.Seed);
double weight = double.Parse(args[2]);
if (weight != 1) data = new AnswerWeightedSource(data, marker, weight);
using var model = PretrainModelFactory.Create(PretrainModelFactory.Config(options, null, eos), options.InitStd, options.Seed, ScalarType.Float32);
var trainer = new Trainer(options.ToTrainerOptions());
trainer.StepCompleted += r => { if (r.Step % 50 == 0) Console.WriteLine($"step {r.Step} ce {r.CrossEntropy:F3} {r.TokensPerSecond:F0} tok/s"); };
trainer.Train(model, data);
var rng2 = new SeededRandom(99, "diag-eval");
var eval = Enumerable.Range(0, 200).Select(i => QuestionFactory.FindWord(trainable[(i * 13) % trainable.Count], trainable, rng2)).ToList();
var acc = DefinitionAccuracy.Evaluate(model, tok, eval);
Console.WriteLine($"find-word accuracy {acc.Correct}/{acc.Questions} = {acc.Accuracy:P1}");
return 0;
