using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Migrations.Operations;
using Npgsql;

namespace FinanceHub.Data.Conversion;

/// <summary>What a baseline did or found.</summary>
/// <param name="Applied">DDL run to bring the database to the first migration's schema.</param>
/// <param name="Blocking">Differences that need a decision, with the fix.</param>
/// <param name="Baselined">Whether the first migration is now recorded as applied.</param>
public sealed record BaselineResult(IReadOnlyList<string> Applied, IReadOnlyList<string> Blocking, bool Baselined);

/// <summary>
/// Brings a database created by the old application (plain tables, maybe slightly different columns) under the
/// project's migrations: what the first migration would create and is missing is created, missing nullable columns are
/// added, and the first migration is recorded as applied, so <c>database update</c> continues from there. Differences
/// that need a decision (a missing NOT NULL column) are reported with their fix and nothing is changed.
/// </summary>
public static class DatabaseBaseliner
{
    /// <summary>Baselines the database of <paramref name="context"/>.</summary>
    public static async Task<BaselineResult> BaselineAsync(FinanceHubDbContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var history = context.GetService<IHistoryRepository>();
        var migrations = context.GetService<IMigrationsAssembly>();
        var first = migrations.Migrations.First();
        if (await history.ExistsAsync(cancellationToken) && (await history.GetAppliedMigrationsAsync(cancellationToken)).Count > 0)
        {
            return new BaselineResult([], [], Baselined: true);
        }

        var migration = migrations.CreateMigration(first.Value, context.Database.ProviderName!);
        var connection = (NpgsqlConnection)context.Database.GetDbConnection();
        await context.Database.OpenConnectionAsync(cancellationToken);
        var operations = new List<MigrationOperation>();
        var applied = new List<string>();
        var blocking = new List<string>();
        foreach (var operation in migration.UpOperations)
        {
            switch (operation)
            {
                case CreateTableOperation table when await ExistsAsync(connection, table.Schema, table.Name, cancellationToken):
                    var existing = await ColumnsAsync(connection, table.Schema, table.Name, cancellationToken);
                    foreach (var column in table.Columns.Where(c => !existing.Contains(c.Name)))
                    {
                        if (column.IsNullable)
                        {
                            operations.Add(new AddColumnOperation
                            {
                                Schema = table.Schema, Table = table.Name, Name = column.Name, ClrType = column.ClrType, ColumnType = column.ColumnType,
                                IsNullable = true, MaxLength = column.MaxLength,
                            });
                            applied.Add($"add column {table.Name}.{column.Name} {column.ColumnType}");
                        }
                        else
                        {
                            blocking.Add($"{table.Name} has no column {column.Name} ({column.ColumnType} NOT NULL); add it with a value for the existing rows, " +
                                $"e.g. ALTER TABLE {table.Name} ADD COLUMN {column.Name} {column.ColumnType} NOT NULL DEFAULT ..., then run baseline again");
                        }
                    }

                    break;
                case CreateIndexOperation index when await IndexExistsAsync(connection, index.Name, cancellationToken):
                    break;
                default:
                    operations.Add(operation);
                    applied.Add(Describe(operation));
                    break;
            }
        }

        if (blocking.Count > 0)
        {
            return new BaselineResult([], blocking, Baselined: false);
        }

        var commands = context.GetService<IMigrationsSqlGenerator>().Generate(operations, context.Model);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var command in commands)
        {
            await using var sql = new NpgsqlCommand(command.CommandText, connection, transaction);
            await sql.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var create = new NpgsqlCommand(history.GetCreateIfNotExistsScript(), connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var insert = new NpgsqlCommand(history.GetInsertScript(new HistoryRow(first.Key, ProductInfo.GetVersion())), connection, transaction))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return new BaselineResult(applied, [], Baselined: true);
    }

    private static string Describe(MigrationOperation operation) => operation switch
    {
        CreateTableOperation t => $"create table {t.Name}",
        CreateIndexOperation i => $"create index {i.Name}",
        EnsureSchemaOperation s => $"ensure schema {s.Name}",
        _ => operation.GetType().Name,
    };

    private static async Task<bool> ExistsAsync(NpgsqlConnection connection, string? schema, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT to_regclass(format('%I.%I', coalesce($1, current_schema()), $2)) IS NOT NULL", connection);
        command.Parameters.Add(new() { Value = (object?)schema ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = name });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<bool> IndexExistsAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = $1 AND relkind = 'i')", connection);
        command.Parameters.Add(new() { Value = name });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<HashSet<string>> ColumnsAsync(NpgsqlConnection connection, string? schema, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass(format('%I.%I', coalesce($1, current_schema()), $2)) AND attnum > 0 AND NOT attisdropped", connection);
        command.Parameters.Add(new() { Value = (object?)schema ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = table });
        var columns = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }
}
