using FinanceHub.Data.Migrations.Infrastructure;
using FinanceHub.Data.Querying.Linq;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>Configures a <see cref="DbContextOptionsBuilder"/> for <see cref="FinanceHub.Data.FinanceHubDbContext"/>.</summary>
public static class FinanceHubDbContextOptionsExtensions
{
    /// <summary>
    /// Npgsql over <paramref name="dataSource"/>, snake_case names, and the project's migration infrastructure
    /// (a session-level migration lock held for the whole run, so concurrent <c>database update</c>s and bundles
    /// apply each migration once), and TimescaleDB's <c>time_bucket</c>, <c>first</c>, <c>last</c> in LINQ.
    /// </summary>
    public static DbContextOptionsBuilder UseFinanceHubNpgsql(this DbContextOptionsBuilder builder, NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dataSource);
        builder
            .UseNpgsql(dataSource, npgsql => npgsql.MigrationsAssembly(typeof(FinanceHub.Data.FinanceHubDbContext).Assembly.GetName().Name))
            .UseSnakeCaseNamingConvention()
            .ReplaceService<IHistoryRepository, FinanceHubHistoryRepository>();
        ((IDbContextOptionsBuilderInfrastructure)builder).AddOrUpdateExtension(
            builder.Options.FindExtension<TimescaleOptionsExtension>() ?? new TimescaleOptionsExtension());
        return builder;
    }
}
