using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Timescale.Catalog;
using Npgsql;
using ArchiveStatus = FinanceHub.Data.Entities.ArchiveStatus;
using NpgsqlTypes;

namespace FinanceHub.Data.Archiving;

// The automated runner: archive, verify, upload and drop every whole chunk older than an age, one run per table.
public sealed partial class DataArchiver
{
    /// <inheritdoc />
    public async Task<IReadOnlyList<AutomatedArchiveStep>> RunAutomatedArchiveAsync(
        string table, int retentionDays, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var definition = Hypertables.Get(table);
        if (retentionDays < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(retentionDays), retentionDays, "Keep at least one day of rows in the table.");
        }

        await RequireRetentionLongerThanAsync(definition, TimeSpan.FromDays(retentionDays), cancellationToken);
        await RequireAggregatesKeepDroppedRangesAsync(definition, TimeSpan.FromDays(retentionDays), cancellationToken);

        // One automated run per table at a time: a session advisory lock, held on its own connection for the whole run and
        // released by the server if this process dies.
        await using var lockConnection = await dataSource.OpenConnectionAsync(cancellationToken);
        var lockKey = "financehub.archive:" + definition.Table;
        if (!await lockConnection.ScalarAsync<bool>(null, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [lockKey], cancellationToken))
        {
            throw new ArchiveBusyException(
                $"Another automated archive of {definition.Table} is running (it holds the archive lock '{lockKey}'). " +
                "Wait for it to finish, then run again; nothing was done.");
        }

        try
        {
            if (!_options.S3Enabled)
            {
                LogLocalOnly(definition.Table, _options.BasePath);
            }

            var cutoff = timeProvider.GetUtcNow() - TimeSpan.FromDays(retentionDays);
            var ranges = await _catalog.GetChunkRangesAsync(definition.Table, cutoff, cancellationToken);
            var steps = new List<AutomatedArchiveStep>();
            foreach (var (start, end) in ranges)
            {
                progress?.Report($"{definition.Table} {start:yyyy-MM-dd} .. {end:yyyy-MM-dd}");
                steps.Add(await ArchiveRangeAsync(definition, start, end, cancellationToken));
            }

            return steps;
        }
        finally
        {
            await lockConnection.ExecuteAsync(null, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", [lockKey], CancellationToken.None);
        }
    }

    private async Task<AutomatedArchiveStep> ArchiveRangeAsync(HypertableDefinition definition, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        // Resume an archive of this range that a failed or killed run left unfinished. When every archive of the range was
        // dropped, rows found there now came later (late data, a restore): they are archived as a further archive.
        var records = await FindRecordsAsync(definition.Table, start, end, cancellationToken);
        var record = records.FirstOrDefault(r => r.Status != ArchiveStatus.Dropped);
        var late = record is null && records.Count > 0;
        if (late && await CountRowsAsync(definition, start, end, cancellationToken) == 0)
        {
            var last = records[^1];
            return new(definition.Table, start, end, last.Id, last.RowCount, "already archived and dropped", Dropped: true);
        }

        // Two attempts: if rows changed between the export and the drop, archive the range again once.
        for (var attempt = 0; ; attempt++)
        {
            // A new export when there is no archive to resume, or its local file is gone before a remote copy was verified.
            if (record is null || (record.LocalPath is null || !File.Exists(record.LocalPath)) && record.Status < ArchiveStatus.RemoteVerified)
            {
                var (exported, path) = await ExportAsync(definition, start, end, _options.Format, null, cancellationToken);
                await InsertRecordAsync(exported, path, cancellationToken);
                record = (await FindRecordsAsync(definition.Table, start, end, cancellationToken)).Single(r => r.Id == exported.Id);
                await CheckpointAsync(ArchiveCheckpoint.AfterExport, record.Id);
            }

            if (record.Status < ArchiveStatus.Verified)
            {
                var manifest = await ReadManifestAsync(ManifestPath(record.LocalPath!), cancellationToken);
                await VerifyFileAsync(manifest, record.LocalPath!, cancellationToken);
                await SetStatusAsync(record.Id, record.Status, ArchiveStatus.Verified, "verified_at", null, null, cancellationToken);
                record.Status = ArchiveStatus.Verified;
                await CheckpointAsync(ArchiveCheckpoint.AfterVerify, record.Id);
            }

            if (_options.S3Enabled && record.Status < ArchiveStatus.RemoteVerified)
            {
                await UploadArchiveAsync(record, cancellationToken);
                await CheckpointAsync(ArchiveCheckpoint.AfterRemoteVerify, record.Id);
            }

            if (await DropIfUnchangedAsync(definition, record, cancellationToken))
            {
                return new(definition.Table, start, end, record.Id, record.RowCount,
                    late ? "late rows archived as a further archive of the range and dropped" : "archived and dropped", Dropped: true);
            }

            if (attempt == 1)
            {
                return new(definition.Table, start, end, record.Id, record.RowCount, "rows keep changing; kept in the table, will retry", Dropped: false);
            }

            // Rows were written into the range after it was archived: archive it again, from the start.
            LogChanged(definition.Table, start, end);
            await DeleteRecordAsync(record, cancellationToken);
            record = null;
        }
    }

    private async Task<bool> DropIfUnchangedAsync(HypertableDefinition definition, ArchiveRecord record, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Block writers to exactly these chunks until the drop commits, then compare them with the archive one last time.
        {
            var names = await TimescaleCatalog.GetChunksWithinAsync(connection, transaction, definition.Table, record.RangeStart, record.RangeEnd, cancellationToken);
            foreach (var name in names)
            {
                // name comes from format('%I.%I') over the catalog: already quoted.
                await using var lockChunk = new NpgsqlCommand($"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE", connection, transaction);
                await lockChunk.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        // The table's columns as they are now: a column added since the export makes the rows differ from the archive's.
        var algorithm = record.ContentChecksumAlgorithm ?? ContentChecksum.RecordHash;
        var columns = algorithm == ContentChecksum.CsvLineHash ? await ArchiveColumns.ReadAsync(connection, transaction, definition.Table, cancellationToken) : [];
        var (rows, checksum) = await ContentChecksum.ComputeAsync(
            connection, transaction, algorithm, definition.Table, columns, definition.TimeColumn, record.RangeStart, record.RangeEnd, cancellationToken);
        if (rows != record.RowCount || checksum != record.ContentChecksum)
        {
            await transaction.RollbackAsync(cancellationToken);
            return false;
        }

        await using (var drop = new NpgsqlCommand("SELECT financehub.drop_archived_chunks($1::regclass, $2, $3)", connection, transaction))
        {
            drop.Parameters.Add(new() { Value = definition.Table });
            drop.Parameters.Add(new() { Value = record.RangeStart.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            drop.Parameters.Add(new() { Value = record.RangeEnd.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            await drop.ExecuteNonQueryAsync(cancellationToken);
        }

        await CheckpointAsync(ArchiveCheckpoint.DuringDrop, record.Id);
        var marked = await connection.ExecuteAsync(transaction,
            "UPDATE financehub.archives SET status = 'Dropped', dropped_at = now(), last_error = NULL WHERE id = $1 AND status = $2",
            [record.Id, record.Status.ToString()], cancellationToken);
        if (marked != 1)
        {
            // Rolled back with the drop: the chunks stay.
            throw new ArchiveBusyException($"Archive {record.Id} of {definition.Table} changed status while this run dropped its range; nothing was dropped.");
        }

        await transaction.CommitAsync(cancellationToken);
        LogDropped(definition.Table, record.RangeStart, record.RangeEnd, record.RowCount);
        return true;
    }
}
