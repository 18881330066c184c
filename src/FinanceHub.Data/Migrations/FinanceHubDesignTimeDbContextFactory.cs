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
            : "Host=localhost;Database=financehub";
        var dataSource = new NpgsqlDataSourceBuilder(connectionString).Build();
        var builder = new DbContextOptionsBuilder<FinanceHubDbContext>();
        builder.UseFinanceHubNpgsql(dataSource);
        if (!options.IsConfigured)
        {
            builder.AddInterceptors(new NotConfiguredInterceptor());
        }

        return new FinanceHubDbContext(builder.Options);
    }

    private sealed class NotConfiguredInterceptor : DbConnectionInterceptor
    {
        public override InterceptionResult ConnectionOpening(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
            => throw new InvalidOperationException(DatabaseOptions.NotConfiguredMessage);

        public override ValueTask<InterceptionResult> ConnectionOpeningAsync(
            DbConnection connection, ConnectionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException(DatabaseOptions.NotConfiguredMessage);
    }
}
