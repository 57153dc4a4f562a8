using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace MoePrune.Training.Pretrain;

/// <summary>
/// Renders <c>MODEL_CARD.md</c> of a pretrained model from the run summary (<c>summary.json</c> of the work
/// folder), the card statistics (<c>evaluation.json</c>, <see cref="PretrainEvaluation"/>) and the exact command.
/// The line "Test-subset perplexity: X" is parsed by the tests.
/// </summary>
public static class ModelCardWriter
{
    public const string TestPerplexityLabel = "Test-subset perplexity: ";

    public static string Render(string command, JsonObject summary, JsonObject evaluation, JsonObject config, string notes)
    {
        static string F(JsonNode? n, string format = "F2") => n is null ? "n/a" : n.GetValue<double>().ToString(format, CultureInfo.InvariantCulture);
        var v = evaluation["validation_subset"]!.AsObject();
        var t = evaluation["test_subset"]!.AsObject();
        var d = evaluation["definition_to_word"]!.AsObject();
        var sb = new StringBuilder();
        sb.Append("# MoePrune default model\n\n");
        sb.Append($"A small Mixtral-architecture MoE trained from scratch by `moeprune pretrain` on the MoePrune training mix " +
                  $"(Brown train split, WordNet prose, instruction examples; see data/README.md). {config["num_hidden_layers"]} layers, " +
                  $"hidden {config["hidden_size"]}, {config["num_attention_heads"]} heads ({config["num_key_value_heads"]} KV), " +
                  $"{config["num_local_experts"]} experts of width {config["intermediate_size"]}, top-{config["num_experts_per_tok"]}, " +
                  $"byte-level BPE vocabulary {config["vocab_size"]}; {summary["total_parameters"]} parameters, {summary["active_parameters"]} active per token; fp32.\n\n");
        sb.Append("## Command\n\n```\n").Append(command).Append("\n```\n\n");
        sb.Append("## Training\n\n| | |\n|---|---|\n");
        sb.Append($"| steps | {summary["steps"]} |\n| tokens seen | {summary["tokens_seen"]} |\n");
        sb.Append($"| training time | {F(summary["train_seconds"], "F0")} s ({F(summary["tokens_per_second"], "F0")} tokens/s, {(summary["threads"] ?? evaluation["throughput"]?["threads"])?.ToString() ?? "?"} torch thread(s), 2-core machine) |\n");
        sb.Append($"| final train loss (mean of last 20 steps, cross-entropy) | {F(summary["final_train_loss"], "F4")} |\n");
        sb.Append($"| final validation loss (every n-th of the validation sequences) | {F(summary["validation_loss"], "F4")} |\n\n");
        sb.Append($"## Validation perplexity per genre\n\nFixed subset: the first {v["sequences_per_genre"]} sequences of {v["sequence_length"]} tokens " +
                  $"of each genre of the Brown validation split (documents in id order, each document followed by <|endoftext|>), {v["tokens"]} predicted tokens. " +
                  "The unigram baseline uses add-one-smoothed token frequencies of the training stream on the same tokens.\n\n");
        sb.Append("| genre | tokens | perplexity | unigram perplexity |\n|---|---:|---:|---:|\n");
        foreach (var (genre, node) in v["per_genre"]!.AsObject())
            sb.Append($"| {genre} | {node!["tokens"]} | {F(node["perplexity"])} | {F(node["unigram_perplexity"])} |\n");
        sb.Append($"| **all** | {v["tokens"]} | **{F(v["perplexity"])}** | {F(v["unigram_perplexity"])} |\n\n");
        sb.Append($"Ratio to the unigram baseline: **{F(v["ratio_to_unigram"], "F3")}** (target ≤ 0.4).\n\n");
        sb.Append($"{TestPerplexityLabel}{F(t["perplexity"], "F4")} (first {t["sequences_per_genre"]} sequences of each genre of the Brown test split, " +
                  $"{t["tokens"]} tokens; recomputed by `DefaultModelTests`).\n\n");
        sb.Append("## Expert load (fraction of routed top-k assignments, validation subset)\n\n| layer | experts 0…7 | min | MI(expert; genre) bits | shuffled | MI(expert; POS) bits | shuffled |\n|---|---|---:|---:|---:|---:|---:|\n");
        foreach (var (layer, node) in evaluation["expert_load"]!.AsObject())
            sb.Append($"| {layer} | {string.Join(" ", node!["fractions"]!.AsArray().Select(f => f!.GetValue<double>().ToString("F3", CultureInfo.InvariantCulture)))} | " +
                      $"{F(node["min_fraction"], "F3")} | {F(node["mi_genre_bits"], "F4")} | {F(node["mi_genre_shuffled_bits"], "F4")} | " +
                      $"{F(node["mi_pos_bits"], "F4")} | {F(node["mi_pos_shuffled_bits"], "F4")} |\n");
        sb.Append($"\n## Held-out definition → word (4 choices)\n\n{d["correct"]} / {d["questions"]} = **{F(d["accuracy"], "P1")}** (chance 25%; target ≥ 40%). " +
                  "The first 400 questions of `EvaluationQuestions.Definitions(KnowledgeSet.Default)` (held-out lemmas only, as answers and as distractors); the model's answer is the " +
                  "letter with the highest next-token probability after the prompt.\n\n");
        if (evaluation["definition_to_word_cloze"] is JsonObject c && evaluation["definition_to_word_seen"] is JsonObject s)
            sb.Append($"The same questions in cloze form (each option scored by the likelihood of the prose sentence " +
                      $"`The noun that means \"…\" is \"WORD\".`, `DefinitionCloze`): {c["correct"]} / {c["questions"]} = **{F(c["accuracy"], "P1")}**. " +
                      $"Lettered definition → word questions taken from the training mix (seen in training): {s["correct"]} / {s["questions"]} = " +
                      $"{F(s["accuracy"], "P1")}.\n\n");
        if (evaluation["throughput"] is JsonObject tp)
            sb.Append($"## Throughput\n\n{F(tp["tokens_per_second"], "F0")} tokens/s × {F(tp["training_flops_per_token"], "E3")} training FLOP/token = " +
                      $"{F(tp["achieved_gflops"])} GFLOP/s, against a matmul rate of {F(tp["matmul_gflops"])} GFLOP/s for {tp["matmul_shape"]} " +
                      $"with {tp["threads"]} thread(s) (MatmulRate, measured at evaluation time; the machine is shared, so both vary).\n\n");
        sb.Append("## Notes\n\n").Append(notes.Trim()).Append('\n');
        return sb.ToString();
    }
}
