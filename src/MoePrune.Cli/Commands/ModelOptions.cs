using System.CommandLine;
using MoePrune.Jobs;
using MoePrune.Models;
using static TorchSharp.torch;

namespace MoePrune.Cli.Commands;

/// <summary>The model-folder argument and the <c>--dtype</c> option, the same on every command that reads a model.</summary>
public static class ModelOptions
{
    /// <summary>
    /// The model folder, optional on every command: <see cref="Model"/> resolves it with
    /// <see cref="DefaultModel.Resolve(string?)"/> (one-line error when omitted and no default model is installed).
    /// </summary>
    public static Argument<string?> ModelDir() => new("model")
    {
        Description = $"Hugging Face model folder (default: {DefaultModel.RelativeDir}, the shipped pretrained model)",
        Arity = ArgumentArity.ZeroOrOne,
    };

    /// <summary>The folder given, or the default model.</summary>
    public static string Model(this ParseResult pr, Argument<string?> dir) => DefaultModel.Resolve(pr.GetValue(dir));

    public const string DtypeValues = "f32, bf16 or f16 (also float32, bfloat16, float16, fp32, …)";

    /// <summary><c>--dtype</c>: the dtype the model's parameters are held in (and written in, where the command writes a model).</summary>
    public static Option<string?> Dtype(string? what = null) => new("--dtype")
    {
        Description = what ?? $"Dtype the model's parameters are held (and computed) in: {DtypeValues} (default: the checkpoint's)",
    };

    /// <summary>The parsed <c>--dtype</c>, or null for "the checkpoint's".</summary>
    public static ScalarType? DtypeValue(this ParseResult pr, Option<string?> dtype) => DtypeNames.ParseOption(pr.GetValue(dtype), dtype.Name);
}
