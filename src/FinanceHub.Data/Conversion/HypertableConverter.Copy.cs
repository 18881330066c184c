using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FinanceHub.Data.Infrastructure;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Conversion;

/// <summary>The copy: in place for small tables, else a hypertable beside the table filled in batches.</summary>
public sealed partial class HypertableConverter
{
    private const long FirstAdaptiveBatch = 10_000;

    private async Task<ConversionStatus> ConvertInPlaceAsync(TableDesign design, long rows, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(transaction, "CREATE EXTENSION IF NOT EXISTS timescaledb", [], cancellationToken);
        foreach (var sql in design.InPlaceSql())
        {
            await connection.ExecuteLongAsync(transaction, sql, [], cancellationToken);
        }

        await UpsertStateAsync(connection, transaction, design.Table, ConversionPhase.ConvertedInPlace,
            string.Create(CultureInfo.InvariantCulture, $"in place (create_hypertable migrate_data, {rows:N0} rows)"), null, rows, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogConverted(design.Table, "in place");
        return await GetStatusAsync(design.Table, cancellationToken);
    }

    private async Task PrepareCopyAsync(TableDesign design, long rows, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (design.NeedsTimeIndex)
        {
            // An index left invalid by an interrupted build is dropped and built again.
            if (await connection.ScalarAsync<bool>(null,
                    "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1 AND NOT i.indisvalid)", [design.TimeIndexName], cancellationToken))
            {
                await connection.ExecuteAsync(null, $"DROP INDEX CONCURRENTLY IF EXISTS {Q(design.TimeIndexName)}", [], cancellationToken);
            }

            await connection.ExecuteLongAsync(null, design.TimeIndexSql(), [], cancellationToken);
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(transaction, "CREATE EXTENSION IF NOT EXISTS timescaledb", [], cancellationToken);
        foreach (var sql in design.PrepareSql())
        {
            await connection.ExecuteAsync(transaction, sql, [], cancellationToken);
        }

        // The copy's end is read once the mirror trigger is in place (CREATE TRIGGER waited for every writer before it):
        // a row written before is at or below this end and gets copied; one written after it is mirrored.
        var bounds = await connection.QueryAsync(transaction, TableDesign.BoundsSql(design.Table, design.Parts, count: false), [],
            r => r.IsDBNull(2) ? null : r.GetString(2), cancellationToken);
        await UpsertStateAsync(connection, transaction, design.Table, ConversionPhase.Copying, $"batched copy by {design.Parts.BatchColumn}", design.Parts, rows, cancellationToken);
        await connection.ExecuteAsync(transaction, $"UPDATE {StateSchema}.conversions SET copy_until = $2 WHERE table_name = $1",
            [design.Table, NpgsqlCommands.Text(bounds[0])], cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogConverted(design.Table, "hypertable prepared, copying");
    }

    private async Task CopyAsync(
        string table, string newTable, TableDesign.Stored parts, ConversionStatus status, ConversionOptions options, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var state = await connection.QueryAsync(null, $"SELECT copy_until, coalesce(rows_total, 0) FROM {StateSchema}.conversions WHERE table_name = $1", [table],
            r => (Until: r.IsDBNull(0) ? null : r.GetString(0), Total: r.GetInt64(1)), cancellationToken);
        var (until, total) = state[0];
        if (until is null)
        {
            return; // the table was empty when the mirror started: everything since is mirrored
        }

        var first = status.CopiedThrough is null;
        var lo = status.CopiedThrough ?? (await connection.QueryAsync(null, TableDesign.BoundsSql(table, parts, count: false), [], r => r.IsDBNull(1) ? null : r.GetString(1), cancellationToken))[0];
        if (lo is null || (!first && lo == until))
        {
            return;
        }

        var copied = status.RowsCopied;
        var batchRows = options.BatchSize.Rows ?? FirstAdaptiveBatch;
        var stopwatch = Stopwatch.StartNew();
        var copiedThisRun = 0L;
        var nextBoundary = (First: TableDesign.NextBoundarySql(table, parts, first: true), Next: TableDesign.NextBoundarySql(table, parts, first: false));
        var copy = (First: TableDesign.CopySql(table, newTable, parts, first: true), Next: TableDesign.CopySql(table, newTable, parts, first: false));
        while (true)
        {
            var batch = Stopwatch.StartNew();
            string hi;
            int inserted;
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            {
                // While a batch runs, a writer's change to the old table waits at its mirror trigger (ROW EXCLUSIVE on the
                // hypertable conflicts with SHARE) until the batch commits. So a row the batch copies can never be deleted
                // or updated in the hypertable before it arrives there: its change lands after, in order.
                await connection.ExecuteAsync(transaction, $"LOCK TABLE {Q(newTable)} IN SHARE MODE", [], cancellationToken);
                hi = options.BatchSize.Span is { } span
                    ? (await connection.ScalarAsync<string>(transaction, TableDesign.NextSpanSql(parts),
                        [NpgsqlCommands.Text(lo), new NpgsqlParameter { Value = span, NpgsqlDbType = NpgsqlDbType.Interval }, NpgsqlCommands.Text(until)], cancellationToken))!
                    : (await connection.ScalarAsync<string>(transaction, first ? nextBoundary.First : nextBoundary.Next,
                        [NpgsqlCommands.Text(lo), batchRows - 1, NpgsqlCommands.Text(until)], cancellationToken))!;
                // Parameters belong to one command each: a fresh pair per statement.
                object?[] Range() => [NpgsqlCommands.Text(lo), NpgsqlCommands.Text(hi)];
                // A plain insert is cheapest; only a batch holding rows the trigger already mirrored conflicts, and that
                // batch is copied again skipping them.
                await transaction.SaveAsync("batch", cancellationToken);
                try
                {
                    inserted = await connection.ExecuteLongAsync(transaction, first ? copy.First : copy.Next, Range(), cancellationToken);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
                {
                    await transaction.RollbackAsync("batch", cancellationToken);
                    inserted = await connection.ExecuteLongAsync(transaction, (first ? copy.First : copy.Next) + " ON CONFLICT DO NOTHING", Range(), cancellationToken);
                }

                copied += inserted;
                copiedThisRun += inserted;
                await connection.ExecuteAsync(transaction,
                    $"UPDATE {StateSchema}.conversions SET position = $2, rows_copied = $3, updated_at = now() WHERE table_name = $1 AND phase = 'Copying'",
                    [table, NpgsqlCommands.Text(hi), copied], cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }

            var elapsed = batch.Elapsed;
            Telemetry.FinanceHubTelemetry.Converted(table, inserted);
            options.Progress?.Report(new ConversionProgress(table, copied, total, hi, copiedThisRun / Math.Max(stopwatch.Elapsed.TotalSeconds, 0.001), inserted, elapsed));
            if (options.BatchSize.Target is { } target && inserted > 0)
            {
                // Sized to the target duration, growing at most fourfold per batch so one slow batch cannot follow a fast one.
                var fit = (long)(inserted * target.TotalSeconds / Math.Max(elapsed.TotalSeconds, 0.001));
                batchRows = Math.Clamp(fit, 1_000, Math.Min(batchRows * 4, 2_000_000));
            }

            lo = hi;
            first = false;
            if (hi == until)
            {
                break;
            }
        }

        LogCopied(table, copied, stopwatch.ElapsedMilliseconds);
    }

    private static async Task UpsertStateAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string table, ConversionPhase phase, string path, TableDesign.Stored? design, long rows,
        CancellationToken cancellationToken)
        => await connection.ExecuteAsync(transaction,
            $"""
            INSERT INTO {StateSchema}.conversions (table_name, phase, path, design, rows_total) VALUES ($1, $2, $3, $4::jsonb, $5)
            ON CONFLICT (table_name) DO UPDATE SET phase = excluded.phase, path = excluded.path, design = excluded.design, rows_total = excluded.rows_total,
              rows_copied = 0, position = NULL, copy_until = NULL, copied_through = NULL, old_table = NULL, updated_at = now()
            """, [table, phase.ToString(), path, NpgsqlCommands.Text(design is null ? null : JsonSerializer.Serialize(design)), rows], cancellationToken);
}
