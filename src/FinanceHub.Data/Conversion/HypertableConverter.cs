using System.Diagnostics;
using System.Globalization;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Catalog;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Conversion;

/// <summary>
/// Turns FinanceHub's existing plain tables into hypertables while the application keeps writing (the seed's
/// <c>TimescaleMigration</c>): a hypertable is built beside the table, a trigger mirrors every write into it, history
/// is copied in checkpointed, time-ordered batches, the copy is validated per time range, and a short swap gives the
/// hypertable the table's name. Until <see cref="FinalizeAsync"/> the old table is kept up to date, so
/// <see cref="RollbackAsync"/> returns to it without losing rows written after the swap.
/// </summary>
public interface IHypertableConverter
{
    /// <summary>Checks what a conversion of <paramref name="table"/> needs; blocking findings say how to fix them.</summary>
    Task<IReadOnlyList<PrerequisiteResult>> CheckPrerequisitesAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Copies the table into a hypertable (or converts it in place when small). Resumes a stopped run.</summary>
    Task<ConversionStatus> ConvertAsync(string table, ConversionOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Compares rows and content checksums per chunk-sized time range between the old table and the hypertable.</summary>
    Task<IReadOnlyList<RangeValidation>> ValidateAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Gives the hypertable the table's name, keeping the old table mirrored. Refuses while validation differs.</summary>
    Task<ConversionStatus> SwapAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Returns to the old table, with every row written since the conversion started.</summary>
    Task<ConversionStatus> RollbackAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Drops the old table: the conversion can no longer be rolled back.</summary>
    Task<ConversionStatus> FinalizeAsync(string table, CancellationToken cancellationToken = default);

    /// <summary>Where each table's conversion stands.</summary>
    Task<IReadOnlyList<ConversionStatus>> GetStatusAsync(CancellationToken cancellationToken = default);
}

/// <inheritdoc />
public sealed partial class HypertableConverter(NpgsqlDataSource dataSource, ILogger<HypertableConverter> logger) : IHypertableConverter
{
    private const string StateSchema = "financehub_convert";

    private const string SetupSql = """
        CREATE SCHEMA IF NOT EXISTS financehub_convert;
        CREATE TABLE IF NOT EXISTS financehub_convert.conversions (
          table_name text PRIMARY KEY, phase text NOT NULL, path text NOT NULL, rows_copied bigint NOT NULL DEFAULT 0,
          copied_through timestamptz, old_table text, updated_at timestamptz NOT NULL DEFAULT now());
        -- Mirrors a row change into another table: TG_ARGV[0] deletes the old row's key there, TG_ARGV[1] inserts the new row.
        CREATE OR REPLACE FUNCTION financehub_convert.mirror() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          IF TG_OP IN ('DELETE', 'UPDATE') THEN EXECUTE TG_ARGV[0] USING OLD; END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') THEN EXECUTE TG_ARGV[1] USING NEW; END IF;
          RETURN NULL;
        END
        $fn$;
        """;

    /// <inheritdoc />
    public Task<IReadOnlyList<PrerequisiteResult>> CheckPrerequisitesAsync(string table, CancellationToken cancellationToken = default)
        => CheckAsync(table, withStatistics: true, cancellationToken);

    private async Task<IReadOnlyList<PrerequisiteResult>> CheckAsync(string table, bool withStatistics, CancellationToken cancellationToken)
    {
        var definition = Hypertables.Get(table);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var results = new List<PrerequisiteResult>();
        var version = (int)(await ScalarAsync(connection, "SELECT current_setting('server_version_num')::int", [], cancellationToken))!;
        results.Add(new("server version", version >= 140000, true,
            version >= 140000 ? $"PostgreSQL {version / 10000}" : $"PostgreSQL {version / 10000} is too old; TimescaleDB 2.x conversions need 14 or later"));
        var available = (string?)await ScalarAsync(connection, "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'", [], cancellationToken);
        var license = (string?)await ScalarAsync(connection, "SELECT current_setting('timescaledb.license', true)", [], cancellationToken);
        results.Add(new("timescaledb available", available is not null, true, available is null
            ? "the server has no timescaledb extension: install it and add it to shared_preload_libraries"
            : $"version {available}, {(license == "timescale" ? "community" : "Apache-2")} edition"));
        if (await ScalarAsync(connection, "SELECT to_regclass($1)::text", [definition.Table], cancellationToken) is not string)
        {
            results.Add(new("table exists", false, true, $"there is no table {definition.Table}"));
            return results;
        }

        var installed = (bool)(await ScalarAsync(connection, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')", [], cancellationToken))!;
        var isHypertable = installed && await new TimescaleCatalog(dataSource).IsHypertableAsync(null, definition.Table, cancellationToken);
        results.Add(new("not yet a hypertable", !isHypertable, false, isHypertable ? "already a hypertable: nothing to convert" : "plain table"));
        var owner = (bool)(await ScalarAsync(connection,
            "SELECT pg_has_role(current_user, c.relowner, 'USAGE') AND has_schema_privilege(c.relnamespace, 'CREATE') FROM pg_class c WHERE c.oid = $1::regclass",
            [definition.Table], cancellationToken))!;
        results.Add(new("permissions", owner, true, owner
            ? "owner of the table, may create tables in its schema"
            : $"connect as the owner of {definition.Table} (or a member of its role) with CREATE on its schema"));
        var timeType = (string?)await ScalarAsync(connection,
            "SELECT format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN '' ELSE ' NULL' END FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped",
            [definition.Table, definition.TimeColumn], cancellationToken);
        var timeOk = timeType is "timestamp with time zone" or "timestamp without time zone" or "date";
        results.Add(new("time column", timeOk, true, timeType is null
            ? $"{definition.Table} has no column {definition.TimeColumn}"
            : timeOk ? $"{definition.TimeColumn} {timeType}"
            : $"{definition.TimeColumn} is {timeType}; fix: ALTER TABLE {definition.Table} ALTER COLUMN {definition.TimeColumn} SET NOT NULL"));
        await using (var keys = new NpgsqlCommand(
            """
            SELECT i.indexrelid::regclass::text, i.indisprimary, pg_get_indexdef(i.indexrelid),
                   (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n) FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
            FROM pg_index i
            WHERE i.indrelid = $1::regclass AND i.indisunique
              AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) AND a.attname = $2)
            """, connection))
        {
            keys.Parameters.Add(new() { Value = definition.Table });
            keys.Parameters.Add(new() { Value = definition.TimeColumn });
            await using var reader = await keys.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var (name, primary, columns) = (reader.GetString(0), reader.GetBoolean(1), reader.GetString(3));
                var fix = primary
                    ? $"ALTER TABLE {definition.Table} DROP CONSTRAINT {name}, ADD PRIMARY KEY ({definition.TimeColumn}, {columns})"
                    : $"DROP INDEX {name}; CREATE UNIQUE INDEX {name} ON {definition.Table} ({columns}, {definition.TimeColumn})";
                results.Add(new("keys include the time column", false, true,
                    $"{(primary ? "primary key" : "unique index")} {name} ({columns}) does not include {definition.TimeColumn}, which hypertables require; fix: {fix}"));
            }
        }

        if (results.All(r => r.Check != "keys include the time column"))
        {
            results.Add(new("keys include the time column", true, true, $"every primary key and unique index includes {definition.TimeColumn}"));
        }

        if (!withStatistics)
        {
            return results;
        }

        await using (var stats = new NpgsqlCommand(
            $"SELECT count(*), min({Q(definition.TimeColumn)}), max({Q(definition.TimeColumn)}), pg_total_relation_size($1::regclass) FROM {Q(definition.Table)}", connection))
        {
            stats.Parameters.Add(new() { Value = definition.Table });
            await using var reader = await stats.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var rows = reader.GetInt64(0);
            results.Add(new("rows and time range", true, false, rows == 0 ? "empty" :
                string.Create(CultureInfo.InvariantCulture, $"{rows:N0} rows from {Iso(reader.GetValue(1))} to {Iso(reader.GetValue(2))}")));
            results.Add(new("disk headroom", true, false,
                string.Create(CultureInfo.InvariantCulture, $"the copy needs about {reader.GetInt64(3) / 1048576.0:N0} MiB free (the table and its indexes once more) until finalize")));
        }

        return results;
    }

    /// <inheritdoc />
    public async Task<ConversionStatus> ConvertAsync(string table, ConversionOptions? options = null, CancellationToken cancellationToken = default)
    {
        var definition = Hypertables.Get(table);
        options ??= new ConversionOptions();
        var blocking = (await CheckAsync(table, withStatistics: false, cancellationToken)).Where(r => r.Blocking && !r.Ok).ToList();
        if (blocking.Count > 0)
        {
            throw new InvalidOperationException($"{table} cannot be converted: {string.Join("; ", blocking.Select(b => b.Detail))}.");
        }

        // One conversion per table at a time: a session lock held by this connection for the whole run.
        await using var lockConnection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (await ScalarAsync(lockConnection, "SELECT pg_try_advisory_lock(hashtextextended('financehub.convert:' || $1, 0))", [table], cancellationToken) is not true)
        {
            throw new ConversionInProgressException(table);
        }

        try
        {
            await ExecuteAsync(lockConnection, SetupSql, [], cancellationToken);
            var status = await GetStatusAsync(table, cancellationToken);
            if (status.Phase is ConversionPhase.Swapped or ConversionPhase.Finalized or ConversionPhase.ConvertedInPlace or ConversionPhase.Copied)
            {
                return status;
            }

            var newTable = NewName(definition);
            var bounds = await BoundsAsync(lockConnection, definition, cancellationToken);
            if (status.Phase != ConversionPhase.Copying)
            {
                if (bounds.Rows < options.InPlaceThresholdRows)
                {
                    return await ConvertInPlaceAsync(definition, bounds.Rows, cancellationToken);
                }

                await PrepareCopyAsync(definition, newTable, cancellationToken);
                status = await GetStatusAsync(table, cancellationToken);
            }

            // The copy's bounds are read once the mirror trigger is in place: a row written before it existed is older
            // than this maximum and gets copied; one written after it is mirrored.
            bounds = await BoundsAsync(lockConnection, definition, cancellationToken, bounds.Rows);
            await CopyAsync(definition, newTable, status, bounds, options, cancellationToken);
            // Validation is its own step (ValidateAsync), and the swap refuses to happen until it passes.
            await SetPhaseAsync(table, ConversionPhase.Copied, null, cancellationToken);
            return await GetStatusAsync(table, cancellationToken);
        }
        finally
        {
            await ExecuteAsync(lockConnection, "SELECT pg_advisory_unlock(hashtextextended('financehub.convert:' || $1, 0))", [table], CancellationToken.None);
        }
    }

    private async Task<ConversionStatus> ConvertInPlaceAsync(HypertableDefinition definition, long rows, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, "CREATE EXTENSION IF NOT EXISTS timescaledb", [], cancellationToken, transaction);
        await ExecuteAsync(connection,
            "SELECT create_hypertable($1::regclass, by_range($2::name, $3::interval), migrate_data => true, create_default_indexes => false)",
            [definition.Table, definition.TimeColumn, ChunkInterval(definition)], cancellationToken, transaction);
        await UpsertStateAsync(connection, transaction, definition.Table, ConversionPhase.ConvertedInPlace, $"in place (create_hypertable migrate_data, {rows:N0} rows)", cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogConverted(definition.Table, "in place");
        return await GetStatusAsync(definition.Table, cancellationToken);
    }

    private async Task PrepareCopyAsync(HypertableDefinition definition, string newTable, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, "CREATE EXTENSION IF NOT EXISTS timescaledb", [], cancellationToken, transaction);
        await ExecuteAsync(connection, $"DROP TABLE IF EXISTS {Q(newTable)}", [], cancellationToken, transaction);
        await ExecuteAsync(connection,
            $"CREATE TABLE {Q(newTable)} (LIKE {Q(definition.Table)} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING CONSTRAINTS INCLUDING STORAGE)",
            [], cancellationToken, transaction);
        // Keys and indexes under temporary names; the swap gives them the old table's names.
        foreach (var (name, definitionSql, isConstraint) in await IndexesAsync(connection, transaction, definition.Table, cancellationToken))
        {
            var temporary = Truncate(name, "_cnv");
            var sql = isConstraint
                ? $"ALTER TABLE {Q(newTable)} ADD CONSTRAINT {Q(temporary)} {definitionSql}"
                : $"CREATE {definitionSql[..definitionSql.IndexOf(" INDEX ", StringComparison.Ordinal)].Replace("CREATE", "", StringComparison.Ordinal).Trim()} INDEX {Q(temporary)} ON {Q(newTable)} {definitionSql[definitionSql.IndexOf(" USING ", StringComparison.Ordinal)..]}";
            await ExecuteAsync(connection, sql, [], cancellationToken, transaction);
        }

        await ExecuteAsync(connection, "SELECT create_hypertable($1::regclass, by_range($2::name, $3::interval), create_default_indexes => false)",
            [newTable, definition.TimeColumn, ChunkInterval(definition)], cancellationToken, transaction);
        await CreateMirrorAsync(connection, transaction, definition.Table, newTable, "financehub_mirror_to_hypertable", cancellationToken);
        await UpsertStateAsync(connection, transaction, definition.Table, ConversionPhase.Copying, "batched copy", cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private static async Task<(long Rows, DateTime? Min, DateTime? Max)> BoundsAsync(
        NpgsqlConnection connection, HypertableDefinition definition, CancellationToken cancellationToken, long? knownRows = null)
    {
        var time = Q(definition.TimeColumn);
        var count = knownRows is { } rows ? rows.ToString(CultureInfo.InvariantCulture) : "count(*)";
        await using var bounds = new NpgsqlCommand($"SELECT {count}::bigint, min({time}), max({time}) FROM {Q(definition.Table)}", connection) { CommandTimeout = 0 };
        await using var reader = await bounds.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetDateTime(1), reader.IsDBNull(2) ? null : reader.GetDateTime(2));
    }

    private async Task CopyAsync(
        HypertableDefinition definition, string newTable, ConversionStatus status, (long Rows, DateTime? Min, DateTime? Max) bounds, ConversionOptions options,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var time = Q(definition.TimeColumn);
        var (total, min, max) = bounds;
        if (min is null)
        {
            return;
        }

        var lo = status.CopiedThrough?.UtcDateTime ?? min.Value;
        var copied = status.RowsCopied;
        var stopwatch = Stopwatch.StartNew();
        var copiedThisRun = 0L;
        while (lo <= max)
        {
            DateTime hi;
            if (options.BatchSize.Rows is { } batchRows)
            {
                var next = await ScalarAsync(connection, $"SELECT {time} FROM {Q(definition.Table)} WHERE {time} >= $1 ORDER BY {time} OFFSET $2 LIMIT 1",
                    [new NpgsqlParameter { Value = lo, NpgsqlDbType = NpgsqlDbType.TimestampTz }, batchRows], cancellationToken);
                hi = next is DateTime t && t > lo ? t : max.Value.AddTicks(10);
            }
            else
            {
                hi = lo + options.BatchSize.Span!.Value;
            }

            // Each batch in its own transaction. FOR SHARE: a row deleted or updated while it is being copied waits for the
            // batch (at most a batch's time) and then reaches the hypertable through the mirror trigger, never the other way round.
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            {
                var copy = $"INSERT INTO {Q(newTable)} OVERRIDING SYSTEM VALUE (SELECT * FROM {Q(definition.Table)} WHERE {time} >= $1 AND {time} < $2 FOR SHARE)";
                object[] Range() => [new NpgsqlParameter { Value = lo, NpgsqlDbType = NpgsqlDbType.TimestampTz }, new NpgsqlParameter { Value = hi, NpgsqlDbType = NpgsqlDbType.TimestampTz }];
                int inserted;
                // A plain insert is cheapest; only a batch holding rows the trigger already mirrored (the newest ones) conflicts,
                // and that batch is copied again skipping them.
                await transaction.SaveAsync("batch", cancellationToken);
                try
                {
                    inserted = await ExecuteAsync(connection, copy, Range(), cancellationToken, transaction);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
                {
                    await transaction.RollbackAsync("batch", cancellationToken);
                    inserted = await ExecuteAsync(connection, copy + " ON CONFLICT DO NOTHING", Range(), cancellationToken, transaction);
                }

                copied += inserted;
                copiedThisRun += inserted;
                await ExecuteAsync(connection,
                    $"UPDATE {StateSchema}.conversions SET copied_through = $2, rows_copied = $3, updated_at = now() WHERE table_name = $1",
                    [definition.Table, new NpgsqlParameter { Value = hi, NpgsqlDbType = NpgsqlDbType.TimestampTz }, copied], cancellationToken, transaction);
                await transaction.CommitAsync(cancellationToken);
            }

            options.Progress?.Report(new ConversionProgress(definition.Table, copied, total, new DateTimeOffset(DateTime.SpecifyKind(hi, DateTimeKind.Utc)),
                copiedThisRun / Math.Max(stopwatch.Elapsed.TotalSeconds, 0.001)));
            lo = hi;
        }

        LogCopied(definition.Table, copied, stopwatch.ElapsedMilliseconds);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RangeValidation>> ValidateAsync(string table, CancellationToken cancellationToken = default)
    {
        var definition = Hypertables.Get(table);
        var status = await GetStatusAsync(table, cancellationToken);
        var (oldTable, newTable) = status.Phase switch
        {
            ConversionPhase.Copying or ConversionPhase.Copied => (definition.Table, NewName(definition)),
            ConversionPhase.Swapped => (status.OldTable!, definition.Table),
            _ => throw new InvalidOperationException($"{table} has no conversion to validate (phase {status.Phase}); run 'convert run' first."),
        };
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var interval = ChunkInterval(definition);
        async Task<Dictionary<DateTime, (long Rows, decimal Sum)>> RangesAsync(string source)
        {
            var ranges = new Dictionary<DateTime, (long, decimal)>();
            await using var command = new NpgsqlCommand(
                $"SELECT time_bucket($1, {Q(definition.TimeColumn)}), count(*), coalesce(sum(hash_record_extended(t, 0)::numeric), 0) FROM {Q(source)} t GROUP BY 1",
                connection, transaction) { CommandTimeout = 0 };
            command.Parameters.Add(new() { Value = interval, NpgsqlDbType = NpgsqlDbType.Interval });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                ranges[reader.GetDateTime(0)] = (reader.GetInt64(1), reader.GetDecimal(2));
            }

            return ranges;
        }

        var left = await RangesAsync(oldTable);
        var right = await RangesAsync(newTable);
        return [.. left.Keys.Union(right.Keys).Order().Select(start =>
        {
            var (oldRows, oldSum) = left.GetValueOrDefault(start);
            var (newRows, newSum) = right.GetValueOrDefault(start);
            var from = new DateTimeOffset(DateTime.SpecifyKind(start, DateTimeKind.Utc));
            return new RangeValidation(from, from + interval, oldRows, newRows, oldSum == newSum);
        })];
    }

    /// <inheritdoc />
    public async Task<ConversionStatus> SwapAsync(string table, CancellationToken cancellationToken = default)
    {
        var definition = Hypertables.Get(table);
        var status = await GetStatusAsync(table, cancellationToken);
        if (status.Phase != ConversionPhase.Copied && status.Phase != ConversionPhase.Copying)
        {
            throw new InvalidOperationException($"{table} is in phase {status.Phase}; only a copied conversion can be swapped ('convert run' first).");
        }

        var mismatches = (await ValidateAsync(table, cancellationToken)).Where(v => !v.Matches).ToList();
        if (mismatches.Count > 0)
        {
            throw new InvalidOperationException(
                $"Refusing to swap {table}: {mismatches.Count} time range(s) differ between the table and the hypertable (first: {mismatches[0].Start:O}, " +
                $"{mismatches[0].OldRows} vs {mismatches[0].NewRows} rows). Run 'convert run' again to finish the copy, then validate.");
        }

        var newTable = NewName(definition);
        var oldTable = Truncate(definition.Table, "_pre_hypertable");
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Writers wait at most for this short transaction; a lock that cannot be had soon fails the swap instead of queueing.
        await ExecuteAsync(connection, "SET LOCAL lock_timeout = '10s'", [], cancellationToken, transaction);
        await ExecuteAsync(connection, $"LOCK TABLE {Q(definition.Table)} IN ACCESS EXCLUSIVE MODE", [], cancellationToken, transaction);
        var counts = (long)(await ScalarAsync(connection, $"SELECT (SELECT count(*) FROM {Q(definition.Table)}) - (SELECT count(*) FROM {Q(newTable)})", [], cancellationToken, transaction))!;
        if (counts != 0)
        {
            throw new InvalidOperationException($"Refusing to swap {table}: row counts differ by {counts} under lock; run 'convert run' again.");
        }

        await ExecuteAsync(connection, $"DROP TRIGGER IF EXISTS financehub_mirror_to_hypertable ON {Q(definition.Table)}", [], cancellationToken, transaction);
        await RenameIndexesAsync(connection, transaction, definition.Table, name => Truncate(name, "_pre"), cancellationToken);
        await ExecuteAsync(connection, $"ALTER TABLE {Q(definition.Table)} RENAME TO {Q(oldTable)}", [], cancellationToken, transaction);
        await RenameIndexesAsync(connection, transaction, newTable, name => name.EndsWith("_cnv", StringComparison.Ordinal) ? name[..^4] : name, cancellationToken);
        await ExecuteAsync(connection, $"ALTER TABLE {Q(newTable)} RENAME TO {Q(definition.Table)}", [], cancellationToken, transaction);
        await SyncIdentityAsync(connection, transaction, definition.Table, cancellationToken);
        // Until finalize, writes to the hypertable reach the old table too: a rollback loses nothing.
        await CreateMirrorAsync(connection, transaction, definition.Table, oldTable, "financehub_mirror_to_old", cancellationToken);
        await ExecuteAsync(connection, $"UPDATE {StateSchema}.conversions SET phase = 'Swapped', old_table = $2, updated_at = now() WHERE table_name = $1",
            [table, oldTable], cancellationToken, transaction);
        await transaction.CommitAsync(cancellationToken);
        LogConverted(table, "swapped");
        return await GetStatusAsync(table, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ConversionStatus> RollbackAsync(string table, CancellationToken cancellationToken = default)
    {
        var definition = Hypertables.Get(table);
        var status = await GetStatusAsync(table, cancellationToken);
        var newTable = NewName(definition);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        switch (status.Phase)
        {
            case ConversionPhase.Copying or ConversionPhase.Copied:
                await ExecuteAsync(connection, $"DROP TRIGGER IF EXISTS financehub_mirror_to_hypertable ON {Q(definition.Table)}", [], cancellationToken, transaction);
                await ExecuteAsync(connection, $"DROP TABLE IF EXISTS {Q(newTable)}", [], cancellationToken, transaction);
                break;
            case ConversionPhase.Swapped:
                var oldTable = status.OldTable!;
                await ExecuteAsync(connection, $"LOCK TABLE {Q(definition.Table)}, {Q(oldTable)} IN ACCESS EXCLUSIVE MODE", [], cancellationToken, transaction);
                await ExecuteAsync(connection, $"DROP TRIGGER IF EXISTS financehub_mirror_to_old ON {Q(definition.Table)}", [], cancellationToken, transaction);
                await RenameIndexesAsync(connection, transaction, definition.Table, name => Truncate(name, "_cnv"), cancellationToken);
                await ExecuteAsync(connection, $"ALTER TABLE {Q(definition.Table)} RENAME TO {Q(newTable)}", [], cancellationToken, transaction);
                await RenameIndexesAsync(connection, transaction, oldTable, name => name.EndsWith("_pre", StringComparison.Ordinal) ? name[..^4] : name, cancellationToken);
                await ExecuteAsync(connection, $"ALTER TABLE {Q(oldTable)} RENAME TO {Q(definition.Table)}", [], cancellationToken, transaction);
                await SyncIdentityAsync(connection, transaction, definition.Table, cancellationToken);
                await ExecuteAsync(connection, $"DROP TABLE {Q(newTable)}", [], cancellationToken, transaction);
                break;
            default:
                throw new InvalidOperationException($"{table} is in phase {status.Phase}: there is nothing to roll back" +
                    (status.Phase == ConversionPhase.Finalized ? " (the old table was dropped by finalize)." : "."));
        }

        await ExecuteAsync(connection, $"UPDATE {StateSchema}.conversions SET phase = 'RolledBack', rows_copied = 0, copied_through = NULL, old_table = NULL, updated_at = now() WHERE table_name = $1",
            [table], cancellationToken, transaction);
        await transaction.CommitAsync(cancellationToken);
        LogConverted(table, "rolled back");
        return await GetStatusAsync(table, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ConversionStatus> FinalizeAsync(string table, CancellationToken cancellationToken = default)
    {
        var definition = Hypertables.Get(table);
        var status = await GetStatusAsync(table, cancellationToken);
        if (status.Phase != ConversionPhase.Swapped)
        {
            throw new InvalidOperationException($"{table} is in phase {status.Phase}; finalize drops the old table after a swap.");
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, $"DROP TRIGGER IF EXISTS financehub_mirror_to_old ON {Q(definition.Table)}", [], cancellationToken, transaction);
        await ExecuteAsync(connection, $"DROP TABLE {Q(status.OldTable!)}", [], cancellationToken, transaction);
        await ExecuteAsync(connection, $"UPDATE {StateSchema}.conversions SET phase = 'Finalized', old_table = NULL, updated_at = now() WHERE table_name = $1", [table], cancellationToken, transaction);
        await transaction.CommitAsync(cancellationToken);
        return await GetStatusAsync(table, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ConversionStatus>> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var list = new List<ConversionStatus>();
        foreach (var definition in Hypertables.All)
        {
            list.Add(await GetStatusAsync(definition.Table, cancellationToken));
        }

        return list;
    }

    private async Task<ConversionStatus> GetStatusAsync(string table, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (await ScalarAsync(connection, $"SELECT to_regclass('{StateSchema}.conversions')::text", [], cancellationToken) is string)
        {
            await using var command = new NpgsqlCommand(
                $"SELECT phase, path, rows_copied, copied_through, old_table, updated_at FROM {StateSchema}.conversions WHERE table_name = $1", connection);
            command.Parameters.Add(new() { Value = table });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                return new ConversionStatus(table, Enum.Parse<ConversionPhase>(reader.GetString(0)), reader.GetString(1), reader.GetInt64(2),
                    reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3), reader.IsDBNull(4) ? null : reader.GetString(4),
                    reader.GetFieldValue<DateTimeOffset>(5));
            }
        }

        return new ConversionStatus(table, ConversionPhase.NotStarted, "-", 0, null, null, null);
    }

    private async Task SetPhaseAsync(string table, ConversionPhase phase, string? path, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, $"UPDATE {StateSchema}.conversions SET phase = $2, path = coalesce($3, path), updated_at = now() WHERE table_name = $1",
            [table, phase.ToString(), (object?)path ?? DBNull.Value], cancellationToken);
    }

    private static async Task UpsertStateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string table, ConversionPhase phase, string path, CancellationToken cancellationToken)
        => await ExecuteAsync(connection,
            $"""
            INSERT INTO {StateSchema}.conversions (table_name, phase, path) VALUES ($1, $2, $3)
            ON CONFLICT (table_name) DO UPDATE SET phase = excluded.phase, path = excluded.path, rows_copied = 0, copied_through = NULL, old_table = NULL, updated_at = now()
            """, [table, phase.ToString(), path], cancellationToken, transaction);

    /// <summary>A row trigger on <paramref name="source"/> that applies every change to <paramref name="target"/> (same columns, same order).</summary>
    private static async Task CreateMirrorAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string source, string target, string name, CancellationToken cancellationToken)
    {
        var keys = await PrimaryKeyColumnsAsync(connection, transaction, source, cancellationToken);
        var delete = $"DELETE FROM {Q(target)} WHERE ({string.Join(", ", keys.Select(Q))}) = ({string.Join(", ", keys.Select(k => "($1)." + Q(k)))})";
        var insert = $"INSERT INTO {Q(target)} OVERRIDING SYSTEM VALUE SELECT ($1).* ON CONFLICT DO NOTHING";
        await ExecuteAsync(connection,
            $"CREATE TRIGGER {Q(name)} AFTER INSERT OR UPDATE OR DELETE ON {Q(source)} FOR EACH ROW EXECUTE FUNCTION {StateSchema}.mirror({SqlIdentifiers.Literal(delete)}, {SqlIdentifiers.Literal(insert)})",
            [], cancellationToken, transaction);
    }

    private static async Task<List<string>> PrimaryKeyColumnsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)
            """, connection, transaction);
        command.Parameters.Add(new() { Value = table });
        var keys = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(reader.GetString(0));
        }

        return keys.Count > 0 ? keys : throw new InvalidOperationException($"{table} has no primary key; the conversion needs one to mirror updates and deletes.");
    }

    /// <summary>Constraints (primary key, unique, foreign keys) and indexes of a table: name, definition, whether it is a constraint.</summary>
    private static async Task<List<(string Name, string Definition, bool IsConstraint)>> IndexesAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT conname::text, pg_get_constraintdef(oid), true FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'f')
            UNION ALL
            SELECT c.relname::text, pg_get_indexdef(i.indexrelid), false FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            """, connection, transaction);
        command.Parameters.Add(new() { Value = table });
        var list = new List<(string, string, bool)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add((reader.GetString(0), reader.GetString(1), reader.GetBoolean(2)));
        }

        return list;
    }

    private static async Task RenameIndexesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string table, Func<string, string> rename, CancellationToken cancellationToken)
    {
        foreach (var (name, _, isConstraint) in await IndexesAsync(connection, transaction, table, cancellationToken))
        {
            var target = rename(name);
            if (target == name)
            {
                continue;
            }

            await ExecuteAsync(connection, isConstraint
                ? $"ALTER TABLE {Q(table)} RENAME CONSTRAINT {Q(name)} TO {Q(target)}"
                : $"ALTER INDEX {Q(name)} RENAME TO {Q(target)}", [], cancellationToken, transaction);
        }
    }

    private static async Task SyncIdentityAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attidentity <> '' AND NOT attisdropped", connection, transaction);
        command.Parameters.Add(new() { Value = table });
        var columns = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                columns.Add(reader.GetString(0));
            }
        }

        foreach (var column in columns)
        {
            await ExecuteAsync(connection,
                $"SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max({Q(column)}) FROM {Q(table)}), 0) + 1, false)",
                [table, column], cancellationToken, transaction);
        }
    }

    private static TimeSpan ChunkInterval(HypertableDefinition definition) => Querying.BucketWidth.Parse(definition.ChunkInterval).Duration;

    private static string NewName(HypertableDefinition definition) => Truncate(definition.Table, "_hypertable_new");

    private static string Truncate(string name, string suffix) => (name.Length + suffix.Length > 63 ? name[..(63 - suffix.Length)] : name) + suffix;

    /// <summary>A time as ISO 8601 in UTC, whatever the machine's culture (a date column as the date).</summary>
    private static string Iso(object value) => value switch
    {
        DateTime t when t.TimeOfDay == TimeSpan.Zero && t.Kind == DateTimeKind.Unspecified => t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        DateTime t => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        DateTimeOffset t => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        _ => "-",
    };

    private static string Q(string identifier) => SqlIdentifiers.Quote(identifier);

    private static NpgsqlParameter ToParameter(object? value) => value as NpgsqlParameter ?? new NpgsqlParameter { Value = value ?? DBNull.Value };

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, object?[] parameters, CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddRange(parameters.Select(ToParameter).ToArray());
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull ? null : value;
    }

    private static async Task<int> ExecuteAsync(NpgsqlConnection connection, string sql, object?[] parameters, CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 };
        command.Parameters.AddRange(parameters.Select(ToParameter).ToArray());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Conversion of {Table}: {What}")]
    private partial void LogConverted(string table, string what);

    [LoggerMessage(Level = LogLevel.Information, Message = "Copied {Rows} rows of {Table} into its hypertable in {ElapsedMs} ms")]
    private partial void LogCopied(string table, long rows, long elapsedMs);
}
