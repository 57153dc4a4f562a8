// The find-the-word probe of models/default/MODEL_CARD.md (Notes): trains a small MoE on find-the-word questions
// only and reports lettered accuracy on fresh ones. Usage (from this folder):
//   MOEPRUNE_DATA=../../data dotnet run -c Release -- TOKENIZER_DIR STEPS ANSWER_WEIGHT HIDDEN LAYERS [LR]
// e.g. a work folder's tokenizer/ , 1800 20 128 4 1e-3 (74.5%) or 3e-3 (29.0%); 1 thread, ~15 min per 1000 steps.
using MoePrune.Data;
using MoePrune.Evaluation;
using MoePrune.Tokenization;
using MoePrune.Training;
using static TorchSharp.torch;
var tok = HfTokenizer.Load(args[0]);
int steps = int.Parse(args[1]);
double weight = double.Parse(args[2]);
var knowledge = KnowledgeSet.Default;
var trainable = knowledge.Trainable.ToList();
var rng = new SeededRandom(7, "diag");
var texts = new List<string>();
for (int i = 0; i < 60000; i++) texts.Add(QuestionFactory.FindWord(trainable[i % trainable.Count], trainable, rng).Text);
int eos = tok.EosId!.Value;
var stream = new List<int>();
foreach (var t in texts) { stream.AddRange(tok.Encode(t, addSpecialTokens: false)); stream.Add(eos); }
Console.WriteLine($"{stream.Count} tokens");
var marker = tok.Encode(InstructionTemplates.AnswerMarker + "\n", addSpecialTokens: false).Select(i => (long)i).ToList();
var options = new PretrainOptions
{
    HiddenSize = int.Parse(args[3]), Layers = int.Parse(args[4]), Heads = 4, KeyValueHeads = 2, Experts = 8, TopK = 2, ExpertSize = 256,
    VocabSize = tok.VocabSize, SequenceLength = 256, BatchSize = 8, Steps = steps, WarmupSteps = 20, LearningRate = args.Length > 5 ? double.Parse(args[5]) : 3e-3,
    AuxLossCoef = 0.05, AuxPerLayer = true, Threads = 1, EvalEvery = 0, CheckpointEvery = 100000, AnswerWeight = weight, AnswerMarkerIds = marker, Seed = 1,
};
string work = "/tmp/diag/work-" + Guid.NewGuid().ToString("N");
var data = new PackedDataset(stream.ToArray(), 256, 1);
var trainer = new Pretrainer(options, work);
trainer.StepCompleted += r => { if (r.Step % 50 == 0) Console.WriteLine($"step {r.Step} ce {r.CrossEntropy:F3} {r.TokensPerSecond:F0} tok/s"); };
var model = trainer.Train(data, [], null, eos);
var rng2 = new SeededRandom(99, "diag-eval");
var eval = Enumerable.Range(0, 200).Select(i => QuestionFactory.FindWord(trainable[(i * 13) % trainable.Count], trainable, rng2)).ToList();
var acc = DefinitionAccuracy.Evaluate(model, tok, eval);
Console.WriteLine($"find-word accuracy {acc.Correct}/{acc.Questions} = {acc.Accuracy:P1}");
