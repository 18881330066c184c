using FinanceHub.Data.Configuration;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Design;
using Npgsql;

namespace FinanceHub.Data.Migrations;

/// <summary>
/// Used by <c>dotnet ef</c> (database update, migrations add/script/bundle). Reads the connection from the environment:
/// <c>FINANCEHUB_CONNECTION_STRING</c>, else the seed's <c>TIMESCALE_DB_*</c> variables; <c>--connection</c> overrides both.
/// </summary>
public sealed class FinanceHubDesignTimeDbContextFactory : IDesignTimeDbContextFactory<FinanceHubDbContext>
{
    /// <inheritdoc />
    public FinanceHubDbContext CreateDbContext(string[] args)
    {
        var options = DatabaseOptions.FromEnvironment();
        // 'migrations add' and 'migrations script' need no server; a placeholder keeps them working on a bare machine.
        // Commands that connect fail on opening, with a message that says how to configure one.
        var connectionString = options.IsConfigured
            ? options.BuildConnectionString("FinanceHub.Data migrations")
            : $"Host={PlaceholderHost};Database=financehub";
        var dataSource = new NpgsqlDataSourceBuilder(connectionString).Build();
        var builder = new DbContextOptionsBuilder<FinanceHubDbContext>();
        builder.UseFinanceHubNpgsql(dataSource);
        if (!options.IsConfigured)
        {
            builder.AddInterceptors(new NotConfiguredInterceptor());
        }

        var context = new FinanceHubDbContext(builder.Options);
        // Migrations refresh aggregates and convert tables: minutes on a large database, not the 30 s of a query.
        context.Database.SetCommandTimeout(MigrationCommandTimeout);
        return context;
    }

    /// <summary>How long one migration command may run (dotnet ef, bundles, financehub-data migrate).</summary>
    public static readonly TimeSpan MigrationCommandTimeout = TimeSpan.FromHours(2);

    private const string PlaceholderHost = "financehub-database-not-configured.invalid";

    // '--connection' (dotnet ef, bundles) replaces the connection string after the factory ran: only the placeholder fails.
    private sealed class NotConfiguredInterceptor : DbConnectionInterceptor
    {
        public override InterceptionResult ConnectionOpening(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
            => IsPlaceholder(connection) ? throw new InvalidOperationException(DatabaseOptions.NotConfiguredMessage) : result;

        public override ValueTask<InterceptionResult> ConnectionOpeningAsync(
            DbConnection connection, ConnectionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default)
            => IsPlaceholder(connection) ? throw new InvalidOperationException(DatabaseOptions.NotConfiguredMessage) : ValueTask.FromResult(result);

        private static bool IsPlaceholder(DbConnection connection)
            => new NpgsqlConnectionStringBuilder(connection.ConnectionString).Host == PlaceholderHost;
    }
}
