using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Query;
using Microsoft.EntityFrameworkCore.Query.SqlExpressions;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql.EntityFrameworkCore.PostgreSQL.Query;
#pragma warning disable EF1001 // PgRowValueExpression is how Npgsql represents ValueTuple.Create(a, b); it is the documented way to take two columns into an aggregate.
using Npgsql.EntityFrameworkCore.PostgreSQL.Query.Expressions.Internal;

namespace FinanceHub.Data.Querying.Linq;

/// <summary>Translates <c>EF.Functions.TimeBucket</c> to <c>time_bucket</c>.</summary>
internal sealed class TimeBucketTranslator(ISqlExpressionFactory sql) : IMethodCallTranslator
{
    public SqlExpression? Translate(
        SqlExpression? instance, MethodInfo method, IReadOnlyList<SqlExpression> arguments, IDiagnosticsLogger<DbLoggerCategory.Query> logger)
    {
        if (method.DeclaringType != typeof(TimescaleDbFunctionsExtensions) || method.Name != nameof(TimescaleDbFunctionsExtensions.TimeBucket))
        {
            return null;
        }

        var time = arguments[2];
        SqlExpression[] args = [sql.ApplyDefaultTypeMapping(arguments[1])!, time, .. arguments.Skip(3).Select(a => sql.ApplyDefaultTypeMapping(a)!)];
        return sql.Function("time_bucket", args, nullable: true, argumentsPropagateNullability: args.Select(_ => true), method.ReturnType, time.TypeMapping!);
    }
}

/// <summary>Translates <c>EF.Functions.First</c>/<c>Last</c> to TimescaleDB's <c>first(value, time)</c>/<c>last(value, time)</c>.</summary>
internal sealed class FirstLastTranslator(ISqlExpressionFactory sql) : IAggregateMethodCallTranslator
{
    public SqlExpression? Translate(
        MethodInfo method, EnumerableExpression source, IReadOnlyList<SqlExpression> arguments, IDiagnosticsLogger<DbLoggerCategory.Query> logger)
    {
        if (method.DeclaringType != typeof(TimescaleDbFunctionsExtensions)
            || method.Name is not (nameof(TimescaleDbFunctionsExtensions.First) or nameof(TimescaleDbFunctionsExtensions.Last))
            || source.Selector is not PgRowValueExpression { Values: [var value, var time] }
            || sql is not NpgsqlSqlExpressionFactory npgsql)
        {
            return null;
        }

        return npgsql.AggregateFunction(
            method.Name == nameof(TimescaleDbFunctionsExtensions.First) ? "first" : "last",
            [value, time], source, nullable: true, argumentsPropagateNullability: [false, false], value.Type, value.TypeMapping);
    }
}

internal sealed class TimescaleMethodCallTranslatorPlugin(ISqlExpressionFactory sql) : IMethodCallTranslatorPlugin
{
    public IEnumerable<IMethodCallTranslator> Translators { get; } = [new TimeBucketTranslator(sql)];
}

internal sealed class TimescaleAggregateMethodCallTranslatorPlugin(ISqlExpressionFactory sql) : IAggregateMethodCallTranslatorPlugin
{
    public IEnumerable<IAggregateMethodCallTranslator> Translators { get; } = [new FirstLastTranslator(sql)];
}

/// <summary>Adds the TimescaleDB LINQ translations to a context's internal services.</summary>
internal sealed class TimescaleOptionsExtension : IDbContextOptionsExtension
{
    private DbContextOptionsExtensionInfo? _info;

    public DbContextOptionsExtensionInfo Info => _info ??= new ExtensionInfo(this);

    public void ApplyServices(IServiceCollection services)
        => new EntityFrameworkRelationalServicesBuilder(services)
            .TryAdd<IMethodCallTranslatorPlugin, TimescaleMethodCallTranslatorPlugin>()
            .TryAdd<IAggregateMethodCallTranslatorPlugin, TimescaleAggregateMethodCallTranslatorPlugin>();

    public void Validate(IDbContextOptions options)
    {
    }

    private sealed class ExtensionInfo(IDbContextOptionsExtension extension) : DbContextOptionsExtensionInfo(extension)
    {
        public override bool IsDatabaseProvider => false;

        public override string LogFragment => "using TimescaleDB functions ";

        public override int GetServiceProviderHashCode() => 0;

        public override bool ShouldUseSameServiceProvider(DbContextOptionsExtensionInfo other) => other is ExtensionInfo;

        public override void PopulateDebugInfo(IDictionary<string, string> debugInfo) => debugInfo["FinanceHub:TimescaleFunctions"] = "1";
    }
}
