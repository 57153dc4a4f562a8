using System.Text.Json.Nodes;
using MoePrune.Models;

namespace MoePrune.Benchmarks;

/// <summary>
/// A decoder-layer shape for throughput benchmarks: hidden, attention heads / KV heads, routed experts of
/// width <see cref="ExpertSize"/>, top-k. The FLOP count is the one issue 4 fixes (also used by the PyTorch
/// peer, bench/peer/mixtral_layer_peer.py): 2·T·(attention projection params + k·3·H·I + E·H) + 2·T²·H.
/// </summary>
public sealed record LayerShape(string Name, int Hidden, int Heads, int KvHeads, int Experts, int ExpertSize, int TopK)
{
    /// <summary>One Mixtral-8x7B decoder layer: hidden 4096, 32/8 heads, 8 experts of 14336, top-2.</summary>
    public static readonly LayerShape Mixtral8x7B = new("mixtral-8x7b", 4096, 32, 8, 8, 14336, 2);
    /// <summary>
    /// One layer of the shipped default model (<c>models/default/config.json</c>): hidden 192, 4/2 heads, 8 experts
    /// of 256, top-2. A test checks it against that config.
    /// </summary>
    public static readonly LayerShape Default = new("default", 192, 4, 2, 8, 256, 2);
    /// <summary>The small shape of the first benchmark runs (planned before the default model was trained): hidden 256, 8/4 heads, 8 experts of 512, top-2.</summary>
    public static readonly LayerShape Small = new("small", 256, 8, 4, 8, 512, 2);

    public static IReadOnlyList<LayerShape> All => [Mixtral8x7B, Default, Small];

    public int HeadDim => Hidden / Heads;

    /// <summary>q, k, v, o projection parameters.</summary>
    public long AttentionParams => 2L * Hidden * Heads * HeadDim + 2L * Hidden * KvHeads * HeadDim;

    public double Flops(long tokens) =>
        2.0 * tokens * (AttentionParams + (double)TopK * 3 * Hidden * ExpertSize + (double)Experts * Hidden) + 2.0 * tokens * tokens * Hidden;

    /// <summary>A one-layer Mixtral config.json of this shape (used to build one <see cref="DecoderLayer"/>).</summary>
    public JsonObject MixtralConfig()
    {
        var json = TinyCheckpoint.Config("mixtral", hidden: Hidden, layers: 1, experts: Experts, topK: TopK, expertSize: ExpertSize, vocab: 256);
        json["num_attention_heads"] = Heads;
        json["num_key_value_heads"] = KvHeads;
        json["rope_theta"] = 1e6;
        json["max_position_embeddings"] = 32768;
        return json;
    }

    public static LayerShape Parse(string name) =>
        All.FirstOrDefault(s => s.Name == name)
        ?? throw new MoePruneException($"--shape: unknown shape \"{name}\" (use {string.Join(", ", All.Select(s => s.Name))} or all)");
}
