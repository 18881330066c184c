using FinanceHub.Data.Entities;
using FinanceHub.Data.Infrastructure;
using FinanceHub.Data.Timescale;
using Npgsql;
using ArchiveStatus = FinanceHub.Data.Entities.ArchiveStatus;
using NpgsqlTypes;

namespace FinanceHub.Data.Archiving;

// The catalog of archives (financehub.archives): records, conditional status changes, remote keys.
public sealed partial class DataArchiver
{
    /// <summary>Every archive of exactly this table and range, oldest first.</summary>
    private async Task<List<ArchiveRecord>> FindRecordsAsync(string table, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
        => await dataSource.QueryAsync(
            """
            SELECT id, status, row_count, content_checksum, local_path, s3bucket, s3key, content_checksum_algorithm FROM financehub.archives
            WHERE table_name = $1 AND range_start = $2 AND range_end = $3
            ORDER BY created_at, id
            """, [table, Timestamp(start), Timestamp(end)], reader => new ArchiveRecord
            {
                Id = reader.GetGuid(0), TableName = table, RangeStart = start, RangeEnd = end, Status = Enum.Parse<ArchiveStatus>(reader.GetString(1)),
                RowCount = reader.GetInt64(2), ContentChecksum = reader.IsDBNull(3) ? null : reader.GetString(3),
                LocalPath = reader.IsDBNull(4) ? null : reader.GetString(4), S3Bucket = reader.IsDBNull(5) ? null : reader.GetString(5),
                S3Key = reader.IsDBNull(6) ? null : reader.GetString(6), ContentChecksumAlgorithm = reader.IsDBNull(7) ? null : reader.GetString(7),
            }, cancellationToken);

    private async Task<long> CountRowsAsync(HypertableDefinition definition, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        var time = SqlIdentifiers.Quote(definition.TimeColumn);
        return await dataSource.ScalarAsync<long>(
            $"SELECT count(*) FROM {SqlIdentifiers.Quote(definition.Table)} WHERE {time} >= $1 AND {time} < $2",
            [Timestamp(start), Timestamp(end)], cancellationToken);
    }

    private async Task InsertRecordAsync(ArchiveManifest manifest, string path, CancellationToken cancellationToken)
        => await dataSource.ExecuteAsync(
            """
            INSERT INTO financehub.archives (id, table_name, range_start, range_end, status, row_count, content_checksum, content_checksum_algorithm,
                                             file_sha256, file_size, local_path, schema_version, created_at)
            VALUES ($1, $2, $3, $4, 'Exported', $5, $6, $7, $8, $9, $10, $11, $12)
            """,
            [manifest.Id, manifest.Table, Timestamp(manifest.RangeStart), Timestamp(manifest.RangeEnd), manifest.RowCount, manifest.ContentChecksum,
             ContentChecksum.Of(manifest), manifest.FileSha256, manifest.FileSize, path, manifest.SchemaVersion, Timestamp(manifest.CreatedAt)], cancellationToken);

    /// <summary>Moves an archive from <paramref name="from"/> to <paramref name="to"/>; another run that moved it first makes this throw.</summary>
    private async Task SetStatusAsync(
        Guid id, ArchiveStatus from, ArchiveStatus to, string timestampColumn, string? bucket, string? key, CancellationToken cancellationToken)
    {
        // timestampColumn is one of this class's constants, never input.
        var changed = await dataSource.ExecuteAsync(
            $"UPDATE financehub.archives SET status = $3, {timestampColumn} = now(), s3bucket = coalesce($4, s3bucket), s3key = coalesce($5, s3key) WHERE id = $1 AND status = $2",
            [id, from.ToString(), to.ToString(),
             new NpgsqlParameter { Value = (object?)bucket ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Varchar },
             new NpgsqlParameter { Value = (object?)key ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Varchar }], cancellationToken);
        if (changed != 1)
        {
            throw new ArchiveBusyException($"Archive {id} is no longer {from} (another run changed it); this run stops without dropping anything.");
        }
    }

    private static NpgsqlParameter Timestamp(DateTimeOffset value) => NpgsqlCommands.TimestampTz(value);

    private async Task DeleteRecordAsync(ArchiveRecord record, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM financehub.archives WHERE id = $1 AND status <> 'Dropped'");
        command.Parameters.Add(new() { Value = record.Id });
        await command.ExecuteNonQueryAsync(cancellationToken);
        if (record.LocalPath is not null)
        {
            // The stale archive is kept beside the new one under its own id: nothing that was written is thrown away.
            LogStale(record.LocalPath);
        }
    }

    private async Task<Dictionary<Guid, string>> RemoteKeysAsync(CancellationToken cancellationToken)
    {
        var keys = new Dictionary<Guid, string>();
        await using var command = dataSource.CreateCommand("SELECT id, s3key FROM financehub.archives WHERE s3key IS NOT NULL");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys[reader.GetGuid(0)] = reader.GetString(1);
        }

        return keys;
    }

    private async Task<HashSet<Guid>> RemoteVerifiedIdsAsync(CancellationToken cancellationToken)
    {
        var ids = new HashSet<Guid>();
        await using var command = dataSource.CreateCommand("SELECT id FROM financehub.archives WHERE remote_verified_at IS NOT NULL AND s3key IS NOT NULL");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }
}
