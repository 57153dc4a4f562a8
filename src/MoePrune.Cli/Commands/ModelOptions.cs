using System.CommandLine;

namespace MoePrune.Cli.Commands;

/// <summary>Arguments and options shared by commands that read a model directory.</summary>
public static class ModelOptions
{
    public static Argument<string> ModelDir() => new("model-dir")
    {
        Description = "Hugging Face model directory (config.json + safetensors)",
    };

    /// <summary>The model directory argument, optional: <see cref="DefaultModelDir"/> when omitted.</summary>
    public static Argument<string> ModelDirOrDefault() => new("model-dir")
    {
        Description = "Hugging Face model directory (default: models/default, the shipped pretrained model)",
        Arity = ArgumentArity.ZeroOrOne,
        DefaultValueFactory = _ => DefaultModelDir(),
    };

    /// <summary>
    /// <c>models/default</c> under the current directory when it exists, else under the nearest ancestor of the
    /// program's folder that has one (the repository), else the relative path (so the error names it).
    /// </summary>
    public static string DefaultModelDir()
    {
        const string relative = "models/default";
        if (Directory.Exists(relative)) return relative;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
        }
        return relative;
    }

    public static Option<string?> Dtype() => new("--dtype")
    {
        Description = "Compute dtype: fp32, bf16 or fp16 (default: the checkpoint's)",
    };
}
