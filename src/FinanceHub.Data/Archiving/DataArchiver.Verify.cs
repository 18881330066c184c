using Amazon.S3;
using FinanceHub.Data.Infrastructure;

namespace FinanceHub.Data.Archiving;

// archives verify: every local and remote copy of every archive in the catalog, checked.
public sealed partial class DataArchiver
{
    /// <inheritdoc />
    public async Task<IReadOnlyList<ArchiveCheck>> VerifyArchivesAsync(IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var records = await dataSource.QueryAsync(
            """
            SELECT id, table_name, range_start, range_end, status, local_path, s3bucket, s3key, file_sha256, file_size
            FROM financehub.archives ORDER BY table_name, range_start, created_at, id
            """, [], r => (Id: r.GetGuid(0), Table: r.GetString(1), Start: r.GetFieldValue<DateTimeOffset>(2), End: r.GetFieldValue<DateTimeOffset>(3),
                Status: r.GetString(4), Local: r.IsDBNull(5) ? null : r.GetString(5), Bucket: r.IsDBNull(6) ? null : r.GetString(6),
                Key: r.IsDBNull(7) ? null : r.GetString(7), Sha256: r.IsDBNull(8) ? null : r.GetString(8), Size: r.GetInt64(9)), cancellationToken);
        var checks = new List<ArchiveCheck>();
        foreach (var record in records)
        {
            progress?.Report($"{record.Table} {record.Start:yyyy-MM-dd} .. {record.End:yyyy-MM-dd} ({record.Id})");
            var local = "none";
            if (record.Local is not null)
            {
                if (!File.Exists(record.Local))
                {
                    local = $"missing: {record.Local}";
                }
                else
                {
                    await using var file = File.OpenRead(record.Local);
                    var (sha256, size) = await HashingStream.HashAsync(file, cancellationToken);
                    local = size != record.Size ? $"{size} bytes, the catalog says {record.Size}"
                        : sha256 != record.Sha256 ? $"SHA-256 {sha256}, the catalog says {record.Sha256}"
                        : "ok";
                }
            }

            var remote = "none";
            if (record.Key is not null)
            {
                if (!_options.S3Enabled || record.Bucket != _options.S3Bucket)
                {
                    remote = $"not checked: s3://{record.Bucket}/{record.Key} is not in the configured bucket ({_options.S3Bucket ?? "none"})";
                }
                else
                {
                    try
                    {
                        await VerifyRemoteAsync(record.Bucket!, record.Key, record.Sha256 ?? "", record.Size, cancellationToken);
                        remote = "ok";
                    }
                    catch (Exception ex) when (ex is ArchiveIntegrityException or AmazonS3Exception or InvalidOperationException or KeyNotFoundException)
                    {
                        remote = ex.Message;
                    }
                }
            }

            checks.Add(new ArchiveCheck(record.Id, record.Table, record.Start, record.End, record.Status, local, remote));
        }

        return checks;
    }
}
