using MoePrune.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MoePrune.Training;

/// <summary>One parameter of a model with its dotted name (the checkpoint name) and its roles.</summary>
public sealed record RoledParameter(string Name, Parameter Parameter, ParameterRole Roles);

/// <summary>
/// Assigns every parameter of a <see cref="MoeForCausalLM"/> its <see cref="ParameterRole"/> by walking the
/// module tree: module types (<see cref="RmsNorm"/>, <see cref="EmptyEmbedding"/>, <see cref="SparseMoeBlock"/>,
/// <see cref="DecoderLayer"/>) and the places where modules are registered (a sparse block's <c>gate</c>,
/// <c>experts</c>, <see cref="SparseMoeBlock.SharedExpert"/> and <c>shared_expert_gate</c>; a decoder layer's
/// <c>self_attn</c> and dense <c>mlp</c>; the model's <c>lm_head</c>), never by substrings of parameter names.
/// A parameter the walk cannot place is an error, so a new kind of module must be given a role here.
/// </summary>
public static class ParameterRoles
{
    /// <summary>The names accepted by <see cref="Parse"/>, in documentation order.</summary>
    public static readonly IReadOnlyList<(string Name, ParameterRole Role)> Names =
    [
        ("routers", ParameterRole.Routers), ("experts", ParameterRole.Experts), ("shared_experts", ParameterRole.SharedExperts),
        ("attention", ParameterRole.Attention), ("norms", ParameterRole.Norms), ("embeddings", ParameterRole.Embeddings),
        ("lm_head", ParameterRole.LmHead), ("dense_mlp", ParameterRole.DenseMlp),
    ];

    /// <summary>"all", or a comma-separated list of role names (e.g. "routers,norms").</summary>
    public static ParameterRole Parse(string spec)
    {
        var roles = ParameterRole.None;
        foreach (var raw in spec.Split(',', StringSplitOptions.TrimEntries))
        {
            if (raw == "all") { roles |= ParameterRole.All; continue; }
            var match = Names.Where(n => n.Name == raw).Select(n => n.Role).FirstOrDefault();
            if (match == ParameterRole.None)
                throw new MoePruneException($"trainable roles \"{spec}\": unknown role \"{raw}\"; expected all or a comma-separated list of {string.Join(", ", Names.Select(n => n.Name))}");
            roles |= match;
        }
        return roles;
    }

    /// <summary>"all", or the role names of <paramref name="roles"/> joined by commas.</summary>
    public static string Format(ParameterRole roles) =>
        roles == ParameterRole.All ? "all"
        : roles == ParameterRole.None ? "none"
        : string.Join(",", Names.Where(n => (roles & n.Role) != 0).Select(n => n.Name));

    /// <summary>Every parameter of <paramref name="model"/> in <c>named_parameters()</c> order, with its roles.</summary>
    public static List<RoledParameter> Of(MoeForCausalLM model)
    {
        var roles = new Dictionary<string, ParameterRole>();
        Walk(model, "", ParameterRole.None, roles, new HashSet<object>(ReferenceEqualityComparer.Instance));
        if (model.Config.TieWordEmbeddings)
            foreach (var name in roles.Keys.ToList())
                if (roles[name] == ParameterRole.Embeddings) roles[name] |= ParameterRole.LmHead;
        var all = new List<RoledParameter>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (!roles.TryGetValue(name, out var r) || r == ParameterRole.None)
                throw new MoePruneException($"parameter \"{name}\" has no known training role");
            all.Add(new RoledParameter(name, p, r));
        }
        return all;
    }

    /// <summary>
    /// Records the role of every parameter below <paramref name="module"/>. TorchSharp lists a module's children
    /// under their registered names and again under the names of the fields holding them; the registered name
    /// comes first and a module is visited once. (Were a field name ever seen first, its parameters would be
    /// recorded under names that <c>named_parameters()</c> does not use, and <see cref="Of"/> would fail loudly.)
    /// </summary>
    static void Walk(nn.Module module, string prefix, ParameterRole role, Dictionary<string, ParameterRole> into, HashSet<object> visited)
    {
        foreach (var (name, _) in module.named_parameters(recurse: false))
            into[prefix + name] = role;
        foreach (var (name, child) in module.named_children())
            if (visited.Add(child))
                Walk(child, prefix + name + ".", RoleOf(module, name, child, role), into, visited);
    }

    /// <summary>The role of <paramref name="child"/>, registered as <paramref name="name"/> under <paramref name="parent"/>.</summary>
    static ParameterRole RoleOf(nn.Module parent, string name, nn.Module child, ParameterRole inherited) => (parent, child) switch
    {
        (_, RmsNorm) => ParameterRole.Norms,
        (_, EmptyEmbedding) => ParameterRole.Embeddings,
        (MoeForCausalLM, _) when name == "lm_head" => ParameterRole.LmHead,
        (SparseMoeBlock block, _) when ReferenceEquals(child, block.Router) => ParameterRole.Routers,
        (SparseMoeBlock, _) when name == "experts" => ParameterRole.Experts,
        (SparseMoeBlock block, _) when ReferenceEquals(child, block.SharedExpert) || ReferenceEquals(child, block.SharedExpertGate) => ParameterRole.SharedExperts,
        (SparseMoeBlock, _) => ParameterRole.None,
        (DecoderLayer, _) when name == "self_attn" => ParameterRole.Attention,
        (DecoderLayer, SwiGluMlp) => ParameterRole.DenseMlp,
        _ => inherited,
    };
}
