using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
#pragma warning disable EF1001 // NpgsqlHistoryRepository is "internal" API; we only add a lock and keep its SQL.
using Npgsql.EntityFrameworkCore.PostgreSQL.Migrations.Internal;

namespace FinanceHub.Data.Migrations.Infrastructure;

/// <summary>
/// Npgsql's history repository with a migration lock that lives for the whole run.
/// </summary>
/// <remarks>
/// Npgsql's own lock is <c>LOCK TABLE "__EFMigrationsHistory"</c>, released at each commit; EF takes it again after
/// every non-transactional step, so a second <c>database update</c> started at the same moment can slip in between,
/// re-apply a non-transactional migration and fail on the history row (23505). A session-level advisory lock is
/// held by the migrating connection until the run ends (<see cref="LockReleaseBehavior.Connection"/>), so concurrent
/// runs queue, and each re-reads the history after it gets the lock.
/// </remarks>
public sealed class FinanceHubHistoryRepository(HistoryRepositoryDependencies dependencies) : NpgsqlHistoryRepository(dependencies)
{
    /// <summary>The advisory lock key ("FHMIGRAT" as ASCII), shared by every FinanceHub migration run on a database.</summary>
    public const long MigrationLockKey = 0x46484D4947524154;

    /// <inheritdoc />
    public override LockReleaseBehavior LockReleaseBehavior => LockReleaseBehavior.Connection;

    /// <inheritdoc />
    public override IMigrationsDatabaseLock AcquireDatabaseLock()
    {
        Execute($"SELECT pg_advisory_lock({MigrationLockKey})");
        return new AdvisoryLock(this);
    }

    /// <inheritdoc />
    public override async Task<IMigrationsDatabaseLock> AcquireDatabaseLockAsync(CancellationToken cancellationToken = default)
    {
        await ExecuteAsync($"SELECT pg_advisory_lock({MigrationLockKey})", cancellationToken);
        return new AdvisoryLock(this);
    }

    // Npgsql probes for the history table by querying it and catching the error; on a new database that is logged as
    // "Failed executing DbCommand", which alarms people reading deployment logs. Ask the catalog instead, and look
    // before reading.

    /// <inheritdoc />
    public override bool Exists()
        => Dependencies.DatabaseCreator.Exists()
            && Dependencies.RawSqlCommandBuilder.Build(TableExistsSql).ExecuteScalar(Parameters()) is true;

    /// <inheritdoc />
    public override async Task<bool> ExistsAsync(CancellationToken cancellationToken = default)
        => await Dependencies.DatabaseCreator.ExistsAsync(cancellationToken)
            && await Dependencies.RawSqlCommandBuilder.Build(TableExistsSql).ExecuteScalarAsync(Parameters(), cancellationToken) is true;

    private string TableExistsSql
        => $"""
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = {(TableSchema is null ? "current_schema()" : Timescale.SqlIdentifiers.Literal(TableSchema))}
                             AND c.relname = {Timescale.SqlIdentifiers.Literal(TableName)})
            """;

    /// <inheritdoc />
    public override IReadOnlyList<HistoryRow> GetAppliedMigrations()
        => Exists() ? base.GetAppliedMigrations() : [];

    /// <inheritdoc />
    public override async Task<IReadOnlyList<HistoryRow>> GetAppliedMigrationsAsync(CancellationToken cancellationToken = default)
        => await ExistsAsync(cancellationToken) ? await base.GetAppliedMigrationsAsync(cancellationToken) : [];

    private void Execute(string sql)
        => Dependencies.RawSqlCommandBuilder.Build(sql).ExecuteNonQuery(Parameters());

    private Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken)
        => Dependencies.RawSqlCommandBuilder.Build(sql).ExecuteNonQueryAsync(Parameters(), cancellationToken);

    private RelationalCommandParameterObject Parameters()
        => new(Dependencies.Connection, null, null, Dependencies.CurrentContext.Context, Dependencies.CommandLogger, CommandSource.Migrations);

    private sealed class AdvisoryLock(FinanceHubHistoryRepository repository) : IMigrationsDatabaseLock
    {
        public IHistoryRepository HistoryRepository => repository;

        // A reopened connection lost its session lock: take it again before going on.
        public IMigrationsDatabaseLock ReacquireIfNeeded(bool connectionReopened, bool? transactionRestarted)
            => connectionReopened ? repository.AcquireDatabaseLock() : this;

        public async Task<IMigrationsDatabaseLock> ReacquireIfNeededAsync(
            bool connectionReopened, bool? transactionRestarted, CancellationToken cancellationToken = default)
            => connectionReopened ? await repository.AcquireDatabaseLockAsync(cancellationToken) : this;

        public void Dispose()
        {
            if (repository.Dependencies.Connection.DbConnection.State == System.Data.ConnectionState.Open)
            {
                repository.Execute($"SELECT pg_advisory_unlock({MigrationLockKey})");
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (repository.Dependencies.Connection.DbConnection.State == System.Data.ConnectionState.Open)
            {
                await repository.ExecuteAsync($"SELECT pg_advisory_unlock({MigrationLockKey})", CancellationToken.None);
            }
        }
    }
}
