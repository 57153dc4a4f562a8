using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using MoePrune.Analyzers;
using MoePrune.Native;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MoePrune.Tests.Native;

/// <summary>MP0001 finds every form of implicit Scalar; <see cref="Scalars"/> keeps what it makes alive and typed.</summary>
public class ScalarSafetyTests
{
    [Fact]
    public async Task TheAnalyzerFlagsImplicitScalarsAndAcceptsScalarsOf()
    {
        const string code = """
            using MoePrune.Native;
            using static TorchSharp.torch;
            static class C
            {
                static Tensor Bad(Tensor x, double eps) => (x + eps).pow(2).clamp(0, 1) * 3;
                static Tensor Good(Tensor x, double eps) =>
                    (x + Scalars.Of(eps)).pow(Scalars.Of(2)).clamp(Scalars.Of(0), Scalars.Of(1)) * Scalars.Of(3) + x;
            }
            """;
        var refs = new[] { typeof(object), typeof(TorchSharp.Scalar), typeof(Scalars), typeof(Enumerable) }
            .Select(t => t.Assembly.Location)
            .Concat(Directory.GetFiles(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "*.dll")
                .Where(f => Path.GetFileName(f) is "System.Runtime.dll" or "netstandard.dll"))
            .Distinct().Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create("probe", [CSharpSyntaxTree.ParseText(code)], refs,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        var diagnostics = await compilation.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new ImplicitScalarAnalyzer()))
            .GetAnalyzerDiagnosticsAsync();
        var found = diagnostics.Where(d => d.Id == ImplicitScalarAnalyzer.Id)
            .OrderBy(d => d.Location.SourceSpan.Start)
            .Select(d => d.Location.SourceTree!.GetText().ToString(d.Location.SourceSpan)).ToList();
        Assert.Equal(["eps", "2", "0", "1", "3"], found);                                 // only in Bad
    }

    [Fact]
    public void ScalarsKeepTheirTypeAndValue()
    {
        using var scope = NewDisposeScope();
        var ints = arange(4L);                                                            // (4) int64
        Assert.Equal(ScalarType.Int64, (ints + Scalars.Of(1)).dtype);
        Assert.Equal(ScalarType.Float32, (ones(2) * Scalars.Of(0.5)).dtype);
        Assert.Equal([2L, 3L, 4L, 5L], (ints + Scalars.Of(2)).data<long>().ToArray());
        Assert.Equal(0.25f, (ones(1) * Scalars.Of(0.25)).item<float>());
    }

    [Fact]
    public void TheRingKeepsTheLastCapacityScalarsAlive()
    {
        using var scope = NewDisposeScope();
        var first = Scalars.Of(7.0);
        for (int i = 0; i < Scalars.Capacity - 1; i++) Scalars.Of(i);
        Assert.Equal(7.0, first.ToDouble());                                             // still alive
        Scalars.Of(0);                                                                    // evicts `first`
        Assert.ThrowsAny<Exception>(() => first.ToDouble());
    }
}
