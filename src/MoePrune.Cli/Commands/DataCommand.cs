using System.CommandLine;
using System.Text.Json.Nodes;
using MoePrune.Data;

namespace MoePrune.Cli.Commands;

/// <summary>
/// <c>moeprune data</c>: the corpora. <c>data manifests</c> rewrites <c>data/splits.json</c> and
/// <c>data/heldout_lemmas.json</c>; <c>data mix --seed N --out DIR</c> writes the training-mix texts for inspection;
/// <c>data tasks --out DIR</c> writes the built-in evaluation tasks as JSONL.
/// </summary>
public static class DataCommand
{
    public static Command Create() => new("data", "Brown / WordNet corpora: committed manifests and the training mix") { Manifests(), Mix(), Tasks() };

    static Command Manifests()
    {
        var cmd = new Command("manifests", "Rewrite data/splits.json and data/heldout_lemmas.json from the installed corpora");
        cmd.SetAction(pr =>
        {
            var paths = CorpusManifests.WriteDefault();
            var obj = new JsonObject { ["splits"] = paths.SplitsManifest, ["held_out"] = paths.HeldOutManifest };
            if (pr.GetValue(GlobalOptions.Json)) CliRunner.PrintJson(obj);
            else Console.WriteLine($"wrote {paths.SplitsManifest} and {paths.HeldOutManifest}");
            return 0;
        });
        return cmd;
    }

    static Command Mix()
    {
        var seed = new Option<long>("--seed") { Description = "Seed for document order, distractors and passages", DefaultValueFactory = _ => 1 };
        var outDir = OutputOptions.Out("Folder for brown.txt, wordnet_prose.txt, instructions.txt/.jsonl, sizes.json");
        var force = OutputOptions.Force();
        var defaults = new InstructionOptions();
        var defQuestions = new Option<int>("--definition-questions") { Description = "Lettered definition → word questions per trainable lemma", DefaultValueFactory = _ => defaults.DefinitionQuestionsPerLemma };
        var findQuestions = new Option<int>("--find-word-questions") { Description = "Lettered find-the-word questions per trainable lemma", DefaultValueFactory = _ => defaults.FindWordQuestionsPerLemma };
        var cmd = new Command("mix", "Build the training mix and write its texts for inspection") { seed, outDir, force, defQuestions, findQuestions };
        cmd.SetAction(pr =>
        {
            var instructions = new InstructionOptions
            {
                DefinitionQuestionsPerLemma = pr.GetValue(defQuestions), FindWordQuestionsPerLemma = pr.GetValue(findQuestions),
            };
            instructions.Validate();
            string dir = pr.GetValue(outDir)!;
            OutputOptions.Claim(dir, IO.OutputKind.Directory, pr.GetValue(force));
            var mix = TrainingMix.Build(pr.GetValue(seed), TrainingMixOptions.WithInstructions(instructions));
            IO.AtomicDirectory.Create(dir, mix.WriteTexts);
            var sizes = mix.Sizes();
            sizes["out"] = Path.GetFullPath(dir);
            if (pr.GetValue(GlobalOptions.Json)) CliRunner.PrintJson(sizes);
            else Console.WriteLine(sizes.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return cmd;
    }

    static Command Tasks()
    {
        var outDir = OutputOptions.Out("Folder for NAME.jsonl per built-in task and tasks.json");
        var force = OutputOptions.Force();
        var cmd = new Command("tasks", "Write the built-in evaluation tasks (held-out WordNet lemmas, Brown test passages) as JSONL") { outDir, force };
        cmd.SetAction(pr =>
        {
            string dir = pr.GetValue(outDir)!;
            OutputOptions.Claim(dir, IO.OutputKind.Directory, pr.GetValue(force));
            JsonObject catalog = [];
            IO.AtomicDirectory.Create(dir, staged => catalog = MoePrune.Data.Tasks.BuiltinTasks.Write(staged));
            if (pr.GetValue(GlobalOptions.Json)) CliRunner.PrintJson(new JsonObject { ["out"] = Path.GetFullPath(dir), ["tasks"] = catalog });
            else
                foreach (var (name, info) in catalog)
                    Console.WriteLine($"{name,-18} {info!["type"],-16} {info["test"],5} test {info["train"],3} train  chance {info["chance"]}");
            return 0;
        });
        return cmd;
    }
}
