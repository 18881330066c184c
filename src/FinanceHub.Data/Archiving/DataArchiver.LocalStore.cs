using System.Text.Json;
using Amazon.S3;

namespace FinanceHub.Data.Archiving;

// The local store: listing the folder (trusted manifests only), cleanup, manifests on disk.
public sealed partial class DataArchiver
{
    /// <inheritdoc />
    public async Task<IReadOnlyList<ArchiveInfo>> ListLocalArchivesAsync(string? folder = null, CancellationToken cancellationToken = default)
    {
        var root = folder ?? _options.BasePath;
        if (!Directory.Exists(root))
        {
            return [];
        }

        var remote = await RemoteKeysAsync(cancellationToken);
        var archives = new List<ArchiveInfo>();
        foreach (var manifestPath in Directory.EnumerateFiles(root, "*.manifest.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            ArchiveManifest manifest;
            try
            {
                manifest = await ReadManifestAsync(manifestPath, cancellationToken);
            }
            catch (ArchiveIntegrityException ex)
            {
                // Listed nowhere, so nothing (cleanup included) acts on what it names.
                LogUntrusted(ex.Message);
                continue;
            }

            var dataPath = Path.Combine(Path.GetDirectoryName(manifestPath)!, manifest.DataFile);
            archives.Add(new ArchiveInfo(manifest, File.Exists(dataPath) ? dataPath : null, remote.GetValueOrDefault(manifest.Id)));
        }

        return archives;
    }

    /// <inheritdoc />
    public async Task<CleanupResult> CleanupLocalArchivesAsync(TimeSpan? olderThan, int? keep, bool force = false, CancellationToken cancellationToken = default)
    {
        if (olderThan is null && keep is null)
        {
            throw new ArgumentException("Say what to clean up: an age (olderThan), a number of newest archives to keep (keep), or both.", nameof(olderThan));
        }

        if (keep < 0 || olderThan < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(keep < 0 ? nameof(keep) : nameof(olderThan), "Ages and counts cannot be negative.");
        }

        var now = timeProvider.GetUtcNow();
        var local = (await ListLocalArchivesAsync(cancellationToken: cancellationToken)).Where(a => a.LocalPath is not null)
            .OrderByDescending(a => a.Manifest.CreatedAt).ToList();
        var verified = await RemoteVerifiedIdsAsync(cancellationToken);
        var deleted = new List<string>();
        var kept = new List<(string, string)>();
        for (var i = 0; i < local.Count; i++)
        {
            var archive = local[i];
            var tooOld = olderThan is { } age && now - archive.Manifest.CreatedAt > age;
            var beyondKeep = keep is { } k && i >= k;
            if (!tooOld && !beyondKeep)
            {
                continue;
            }

            if (!force && !verified.Contains(archive.Manifest.Id))
            {
                kept.Add((archive.LocalPath!, "no verified remote copy (use --force to delete anyway)"));
                continue;
            }

            if (!force && await RemoteCopyProblemAsync(archive, cancellationToken) is { } problem)
            {
                kept.Add((archive.LocalPath!, $"its remote copy is not there as recorded ({problem}); re-run the archive to upload it again, or use --force"));
                continue;
            }

            File.Delete(archive.LocalPath!);
            File.Delete(ManifestPath(archive.LocalPath!));
            deleted.Add(archive.LocalPath!);
            await using var command = dataSource.CreateCommand("UPDATE financehub.archives SET local_path = NULL WHERE id = $1");
            command.Parameters.Add(new() { Value = archive.Manifest.Id });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        return new CleanupResult(deleted, kept);
    }

    /// <summary>Why the S3 copy of <paramref name="archive"/> cannot stand in for the local file now (null when it can).</summary>
    private async Task<string?> RemoteCopyProblemAsync(ArchiveInfo archive, CancellationToken cancellationToken)
    {
        if (!_options.S3Enabled || archive.S3Key is null)
        {
            return "S3 is not configured here, so the copy cannot be checked";
        }

        try
        {
            await VerifyRemoteAsync(_options.S3Bucket!, archive.S3Key, archive.Manifest.FileSha256, archive.Manifest.FileSize, cancellationToken);
            return null;
        }
        catch (Exception ex) when (ex is ArchiveIntegrityException or AmazonS3Exception or InvalidOperationException)
        {
            return ex.Message;
        }
    }

    private static string ManifestPath(string dataPath) => Path.Combine(Path.GetDirectoryName(dataPath) ?? "", ArchiveFiles.ManifestName(Path.GetFileName(dataPath)));

    private static async Task<ArchiveManifest> ReadManifestAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(path);
        try
        {
            return ManifestValidation.Validate(
                await JsonSerializer.DeserializeAsync(stream, ArchiveJsonContext.Default.ArchiveManifest, cancellationToken), path);
        }
        catch (JsonException ex)
        {
            throw new ArchiveIntegrityException($"The manifest {path} is not valid JSON ({ex.Message}).");
        }
    }
}
