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
/// Brings a database created by the old application (plain tables, surrogate keys, columns that differ a little) under
/// the project's migrations: what the first migration would create and is missing is created; missing columns are added
/// (NOT NULL ones with the model's default); columns the old application named differently are renamed and cast when
/// mapped (<see cref="ColumnMap"/>); and the first migration is recorded as applied, so <c>database update</c> continues
/// from there. Whatever needs a decision (a required column without a default, a table that must be converted first) is
/// reported with the exact fix, and then nothing is changed.
/// </summary>
public static class DatabaseBaseliner
{
    /// <summary>Baselines the database of <paramref name="context"/>.</summary>
    /// <param name="context">The context over the database.</param>
    /// <param name="maps">Columns the old application named differently (<c>api_usage_logs.duration_ms=response_time_ms</c>).</param>
    /// <param name="dryRun">Only report what would be done.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public static async Task<BaselineResult> BaselineAsync(
        FinanceHubDbContext context, IReadOnlyList<ColumnMap>? maps = null, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        maps ??= [];
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
        var renames = new List<string>();
        foreach (var map in maps)
        {
            if (ModelSchema.FindColumn(map.Table, map.Column) is not { } target)
            {
                blocking.Add($"--map {map}: the model has no column {map.Table}.{map.Column}");
                continue;
            }

            var present = await ColumnsAsync(connection, null, map.Table, cancellationToken);
            if (present.Contains(map.OldColumn) && !present.Contains(map.Column))
            {
                var (table, column, old) = (Quote(map.Table), Quote(map.Column), Quote(map.OldColumn));
                renames.Add($"ALTER TABLE {table} RENAME COLUMN {old} TO {column}");
                renames.Add($"ALTER TABLE {table} ALTER COLUMN {column} TYPE {target.StoreType} USING {column}::{target.StoreType}");
                applied.Add($"rename column {map.Table}.{map.OldColumn} to {map.Column} {target.StoreType}");
            }
            else if (!present.Contains(map.Column))
            {
                blocking.Add($"--map {map}: {map.Table} has neither {map.Column} nor {map.OldColumn}");
            }
        }

        blocking.AddRange(await UnconvertedHypertablesAsync(connection, cancellationToken));
        foreach (var operation in migration.UpOperations)
        {
            switch (operation)
            {
                case CreateTableOperation table when await ExistsAsync(connection, table.Schema, table.Name, cancellationToken):
                    var existing = await ColumnsAsync(connection, table.Schema, table.Name, cancellationToken);
                    existing.UnionWith(maps.Where(m => m.Table == table.Name && existing.Contains(m.OldColumn)).Select(m => m.Column));
                    foreach (var column in table.Columns.Where(c => !existing.Contains(c.Name)))
                    {
                        var modelDefault = table.Schema is null ? ModelSchema.FindColumn(table.Name, column.Name)?.DefaultSql : null;
                        if (!column.IsNullable && (column.DefaultValueSql ?? modelDefault) is { } defaultSql)
                        {
                            operations.Add(new AddColumnOperation
                            {
                                Schema = table.Schema, Table = table.Name, Name = column.Name, ClrType = column.ClrType, ColumnType = column.ColumnType,
                                IsNullable = false, MaxLength = column.MaxLength, IsFixedLength = column.IsFixedLength, DefaultValueSql = defaultSql,
                            });
                            applied.Add($"add column {table.Name}.{column.Name} {column.ColumnType} NOT NULL DEFAULT {defaultSql}");
                        }
                        else if (column.IsNullable)
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
                            blocking.Add($"{table.Name} has no column {column.Name} ({column.ColumnType} NOT NULL) and the model has no default for it; " +
                                $"if the old application called it differently, map it (--map {table.Name}.{column.Name}=<old name>); " +
                                $"else add it with a value for the existing rows: ALTER TABLE {table.Name} ADD COLUMN {column.Name} {column.ColumnType} NOT NULL DEFAULT ...; then run baseline again");
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

        if (blocking.Count > 0 || dryRun)
        {
            return new BaselineResult(applied, blocking, Baselined: false);
        }

        var commands = context.GetService<IMigrationsSqlGenerator>().Generate(operations, context.Model);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var rename in renames)
        {
            await using var sql = new NpgsqlCommand(rename, connection, transaction) { CommandTimeout = 0 };
            await sql.ExecuteNonQueryAsync(cancellationToken);
        }

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

    /// <summary>
    /// The model's hypertables that are still plain tables with a unique key lacking their time column: the migrations
    /// cannot make them hypertables, and converting them (online) comes first.
    /// </summary>
    private static async Task<List<string>> UnconvertedHypertablesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var blocking = new List<string>();
        foreach (var definition in Entities.Hypertables.All)
        {
            await using var command = new NpgsqlCommand(
                """
                SELECT string_agg(c.relname || ' (' || (SELECT string_agg(a.attname, ', ') FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)) || ')', '; ')
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = to_regclass(quote_ident($1)) AND i.indisunique
                  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) AND a.attname = $2)
                """, connection);
            command.Parameters.Add(new() { Value = definition.Table });
            command.Parameters.Add(new() { Value = definition.TimeColumn });
            if (await command.ExecuteScalarAsync(cancellationToken) is string keys)
            {
                blocking.Add($"{definition.Table} is a plain table whose unique key(s) {keys} lack {definition.TimeColumn}, so the migrations cannot make it a hypertable; " +
                    $"convert it first, online and reversibly: financehub-data convert run {definition.Table} (or 'convert run' for every table; 'convert plan' shows the steps)");
            }
        }

        return blocking;
    }

    private static string Quote(string identifier) => Timescale.SqlIdentifiers.Quote(identifier);

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
