using System.Text.Json.Nodes;
using MoePrune.Models;
using MoePrune.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace MoePrune.Tests.Pruning;

/// <summary>Tiny models, padded batches and the masked-routing reference for the surgery tests.</summary>
static class SurgerySupport
{
    /// <summary>A 3-layer tiny config; for qwen2_moe layer 0 is dense (mlp_only_layers) and every sparse layer has a shared expert.</summary>
    public static JsonObject Config(string family, int experts = 8, int topK = 2)
    {
        TorchNative.EnsureLoaded();
        var json = TinyCheckpoint.Config(family, hidden: 32, layers: 3, experts: experts, topK: topK, expertSize: 24, vocab: 64);
        if (family == "qwen2_moe") json["mlp_only_layers"] = new JsonArray(0);
        return json;
    }

    /// <summary>(3, 9) token ids, rows right-padded to 9, 6 and 4 real tokens, and the (3, 9) mask.</summary>
    public static (Tensor Ids, Tensor Mask) PaddedBatch(int seed, int vocab = 64)
    {
        var ids = randint(1, vocab, [3, 9], dtype: ScalarType.Int64, generator: new Generator((ulong)seed)); // (3, 9)
        var mask = zeros(3, 9, ScalarType.Int64);                                        // (3, 9)
        mask[0].fill_(1);
        mask[1, TensorIndex.Slice(0, 6)].fill_(1);
        mask[2, TensorIndex.Slice(0, 4)].fill_(1);
        return (ids * mask, mask);
    }

    /// <summary>
    /// The reference: the FULL model with the removed experts' router logits at −inf (SparseMoeBlock.ExpertMask),
    /// logits (B, T, V) at the real positions only, flattened to (N, V).
    /// </summary>
    public static Tensor MaskedReference(MoeForCausalLM full, IReadOnlyDictionary<int, IReadOnlyList<int>> removed, Tensor ids, Tensor mask)
    {
        var blocks = full.Model.Layers.Where(l => l.Moe is not null).Select(l => l.Moe!).ToList();
        try
        {
            foreach (var block in blocks)
            {
                var keep = Enumerable.Range(0, block.NumExperts)
                    .Select(e => !(removed.TryGetValue(block.LayerIndex, out var r) && r.Contains(e))).ToArray();
                block.ExpertMask = tensor(keep);                                         // (E) bool
            }
            return RealRows(full.Logits(ids, mask), mask);
        }
        finally
        {
            foreach (var block in blocks) block.ExpertMask = null;
        }
    }

    /// <summary>(B, T, V) → (N, V) at the positions where mask is 1.</summary>
    public static Tensor RealRows(Tensor logits, Tensor mask) =>
        logits.reshape(-1, logits.shape[2]).index_select(0, mask.reshape(-1).nonzero().reshape(-1));

    /// <summary>
    /// Max |logits of the exported model in <paramref name="exportDir"/> − <paramref name="original"/>'s with exactly the
    /// <paramref name="removed"/> experts masked| over a padded batch of <paramref name="seed"/> (real rows only).
    /// </summary>
    public static double ExportVsMaskedOriginal(string exportDir, MoeForCausalLM original, IReadOnlyDictionary<int, IReadOnlyList<int>> removed,
                                                int seed, int vocab)
    {
        using var pruned = ModelLoader.Load(exportDir);
        return ExportVsMaskedOriginal(pruned, original, removed, seed, vocab);
    }

    /// <summary>As above for an exported model already loaded.</summary>
    public static double ExportVsMaskedOriginal(MoeForCausalLM pruned, MoeForCausalLM original, IReadOnlyDictionary<int, IReadOnlyList<int>> removed,
                                                int seed, int vocab)
    {
        var (ids, mask) = PaddedBatch(seed, vocab);
        using var noGrad = no_grad();
        var expected = MaskedReference(original, removed, ids, mask);                     // (N, V)
        var actual = RealRows(pruned.Logits(ids, mask), mask);                            // (N, V)
        return (actual - expected).abs().max().item<float>();
    }

    /// <summary>Keys whose values differ between two JSON objects (missing on either side counts).</summary>
    public static List<string> DifferingKeys(JsonObject a, JsonObject b) =>
        a.Select(kv => kv.Key).Union(b.Select(kv => kv.Key))
         .Where(k => !JsonNode.DeepEquals(a[k], b[k]) || a.ContainsKey(k) != b.ContainsKey(k)).Order().ToList();

    /// <summary>A fresh empty parent directory; the export target inside it does not exist yet.</summary>
    public static string FreshParent()
    {
        var dir = Path.Combine(Path.GetTempPath(), "moeprune-surgery-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
