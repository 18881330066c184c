using FinanceHub.Data.Migrations.Infrastructure;
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
    /// apply each migration once).
    /// </summary>
    public static DbContextOptionsBuilder UseFinanceHubNpgsql(this DbContextOptionsBuilder builder, NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dataSource);
        return builder
            .UseNpgsql(dataSource, npgsql => npgsql.MigrationsAssembly(typeof(FinanceHub.Data.FinanceHubDbContext).Assembly.GetName().Name))
            .UseSnakeCaseNamingConvention()
            .ReplaceService<IHistoryRepository, FinanceHubHistoryRepository>();
    }
}
