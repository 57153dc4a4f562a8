using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace MoePrune.Analyzers;

/// <summary>
/// MP0001: an implicit conversion of a number to <c>TorchSharp.Scalar</c> (as in <c>x + 1e-6</c> or <c>x.pow(2)</c>).
/// TorchSharp 0.107 hands the temporary Scalar's native handle to libtorch and drops the managed object, whose
/// finalizer may then free the handle while the native call still reads it ("Unknown scalar type" under load;
/// dotnet/TorchSharp#1434). Scalars must be created explicitly and kept alive for the call: a field built once,
/// or <c>using var s = v.ToScalar();</c>.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ImplicitScalarAnalyzer : DiagnosticAnalyzer
{
    public const string Id = "MP0001";

    private static readonly DiagnosticDescriptor Rule = new(
        Id,
        "Implicit TorchSharp.Scalar",
        "'{0}' becomes a temporary TorchSharp.Scalar that may be finalized while libtorch uses it; write MoePrune.Native.Scalars.Of(…) (dotnet/TorchSharp#1434)",
        "Reliability",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var scalar = start.Compilation.GetTypeByMetadataName("TorchSharp.Scalar");
            if (scalar is null) return;
            start.RegisterOperationAction(c =>
            {
                var conversion = (IConversionOperation)c.Operation;
                if (conversion.IsImplicit && conversion.Conversion.IsUserDefined
                    && SymbolEqualityComparer.Default.Equals(conversion.Type, scalar))
                    c.ReportDiagnostic(Diagnostic.Create(Rule, conversion.Syntax.GetLocation(), conversion.Operand.Syntax.ToString()));
            }, OperationKind.Conversion);
            // Tensor ⊕ number: TorchSharp's operator overloads that take a primitive make the Scalar themselves.
            start.RegisterOperationAction(c =>
            {
                var op = (IBinaryOperation)c.Operation;
                if (op.OperatorMethod is not { } method || method.ContainingNamespace?.ToDisplayString() != "TorchSharp") return;
                foreach (var p in method.Parameters)
                    if (p.Type.SpecialType is >= SpecialType.System_SByte and <= SpecialType.System_Double)
                    {
                        var number = p.Ordinal == 0 ? op.LeftOperand : op.RightOperand;
                        c.ReportDiagnostic(Diagnostic.Create(Rule, number.Syntax.GetLocation(), number.Syntax.ToString()));
                    }
            }, OperationKind.Binary);
        });
    }
}
