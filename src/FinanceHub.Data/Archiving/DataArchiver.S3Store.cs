using Amazon.Runtime;
using Amazon.S3.Model;
using Amazon.S3;
using FinanceHub.Data.Entities;
using ArchiveStatus = FinanceHub.Data.Entities.ArchiveStatus;

namespace FinanceHub.Data.Archiving;

// The S3 store: upload with per-part checksums, listing, remote verification, the client.
public sealed partial class DataArchiver
{
    /// <inheritdoc />
    public async Task UploadToS3Async(string filePath, string bucket, string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        ArgumentException.ThrowIfNullOrWhiteSpace(bucket);
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (!File.Exists(filePath))
        {
            throw new ArgumentException($"There is no file '{filePath}' to upload.", nameof(filePath));
        }

        string sha256;
        await using (var read = File.OpenRead(filePath))
        {
            (sha256, _) = await HashingStream.HashAsync(read, cancellationToken);
        }

        var length = new FileInfo(filePath).Length;
        await S3CallAsync(bucket, async s3 =>
        {
            await using var source = File.OpenRead(filePath);
            var stream = UploadStreamWrapper?.Invoke(source) ?? source;
            try
            {
                await UploadAsync(s3, stream, length, bucket, key, sha256, cancellationToken);
            }
            finally
            {
                if (stream != source)
                {
                    await stream.DisposeAsync();
                }
            }
        }, cancellationToken);
        if (Checkpoint is not null)
        {
            await Checkpoint(ArchiveCheckpoint.AfterUpload, Guid.Empty);
        }

        await VerifyRemoteAsync(bucket, key, sha256, length, cancellationToken);
        LogUploaded(key, bucket, length);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<S3ArchiveObject>> ListS3ArchivesAsync(string? prefix = null, CancellationToken cancellationToken = default)
    {
        var bucket = RequireBucket();
        var objects = new List<S3ArchiveObject>();
        await S3CallAsync(bucket, async s3 =>
        {
            var request = new ListObjectsV2Request { BucketName = bucket, Prefix = prefix ?? _options.S3Prefix };
            ListObjectsV2Response response;
            do
            {
                response = await s3.ListObjectsV2Async(request, cancellationToken);
                objects.AddRange((response.S3Objects ?? []).Where(o => ArchiveFiles.IsDataFile(o.Key))
                    .Select(o => new S3ArchiveObject(o.Key, o.Size ?? 0, o.LastModified is { } m ? new DateTimeOffset(m.ToUniversalTime(), TimeSpan.Zero) : default)));
                request.ContinuationToken = response.NextContinuationToken;
            }
            while (response.IsTruncated == true);
        }, cancellationToken);
        return objects;
    }

    /// <summary>
    /// One PUT for small files, a multipart upload for large ones. Every request carries the SHA-256 of its bytes in
    /// x-amz-checksum-sha256, which S3 checks on receipt; no chunked trailers, so S3-compatible stores take it as well.
    /// </summary>
    /// <remarks>
    /// Written by hand rather than with the SDK's TransferUtility: that one sends its checksums as aws-chunked trailers
    /// (which not every S3-compatible store accepts) and does not hand back a SHA-256 per part and for the whole object
    /// to record and compare. AutomatedArchiveTests upload through this path to a real S3 API (moto), including a
    /// connection that fails mid-upload.
    /// </remarks>
    private async Task UploadAsync(IAmazonS3 s3, Stream stream, long length, string bucket, string key, string fileSha256, CancellationToken cancellationToken)
    {
        var partSize = (int)Math.Min(_options.MultipartPartSize, int.MaxValue);
        if (length <= partSize)
        {
            var body = new byte[length];
            await stream.ReadExactlyAsync(body, cancellationToken);
            var put = new PutObjectRequest
            {
                BucketName = bucket, Key = key, InputStream = new MemoryStream(body), UseChunkEncoding = false,
                ChecksumSHA256 = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(body)), ContentType = "application/octet-stream",
            };
            put.Metadata.Add("sha256", fileSha256);
            await s3.PutObjectAsync(put, cancellationToken);
            return;
        }

        var initiate = new InitiateMultipartUploadRequest { BucketName = bucket, Key = key, ChecksumAlgorithm = ChecksumAlgorithm.SHA256 };
        initiate.Metadata.Add("sha256", fileSha256);
        var upload = await s3.InitiateMultipartUploadAsync(initiate, cancellationToken);
        try
        {
            var parts = new List<PartETag>();
            var buffer = new byte[partSize];
            for (var number = 1; ; number++)
            {
                var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                var checksum = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(buffer.AsSpan(0, read)));
                var part = await s3.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = bucket, Key = key, UploadId = upload.UploadId, PartNumber = number, InputStream = new MemoryStream(buffer, 0, read),
                    PartSize = read, UseChunkEncoding = false, ChecksumAlgorithm = ChecksumAlgorithm.SHA256, ChecksumSHA256 = checksum,
                }, cancellationToken);
                parts.Add(new PartETag { PartNumber = number, ETag = part.ETag, ChecksumSHA256 = checksum });
            }

            await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = bucket, Key = key, UploadId = upload.UploadId, PartETags = parts,
            }, cancellationToken);
        }
        catch
        {
            // Leave no half-uploaded parts behind to be billed for.
            await s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = upload.UploadId }, CancellationToken.None);
            throw;
        }
    }

    private async Task VerifyRemoteAsync(string bucket, string key, string sha256, long length, CancellationToken cancellationToken)
    {
        await S3CallAsync(bucket, async s3 =>
        {
            var metadata = await s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key }, cancellationToken);
            if (metadata.ContentLength != length || metadata.Metadata["sha256"] != sha256)
            {
                throw new ArchiveIntegrityException($"s3://{bucket}/{key} has {metadata.ContentLength} bytes and SHA-256 {metadata.Metadata["sha256"]}; the file has {length} and {sha256}.");
            }

            using var response = await s3.GetObjectAsync(bucket, key, cancellationToken);
            var (remoteSha, remoteLength) = await HashingStream.HashAsync(response.ResponseStream, cancellationToken);
            if (remoteLength != length || remoteSha != sha256)
            {
                throw new ArchiveIntegrityException($"s3://{bucket}/{key} reads back as {remoteLength} bytes with SHA-256 {remoteSha}; the file has {length} and {sha256}.");
            }
        }, cancellationToken);
    }

    private string RequireBucket()
        => _options.S3Bucket is { Length: > 0 } bucket ? bucket : throw new InvalidOperationException("No S3 bucket is configured; set ARCHIVE_S3_BUCKET.");

    /// <summary>Uploads a verified archive and its manifest, checks the remote copy, and records it (status RemoteVerified); returns the key.</summary>
    private async Task<string> UploadArchiveAsync(ArchiveRecord record, CancellationToken cancellationToken)
    {
        // The same layout as on disk: {prefix}/{table}/ for gzip CSV, {prefix}/table=…/year=…/month=…/ for Parquet.
        var name = Path.GetFileName(record.LocalPath!);
        var format = name.EndsWith(".parquet", StringComparison.Ordinal) ? ArchiveFormat.Parquet : ArchiveFormat.CsvGzip;
        var key = $"{_options.S3Prefix.TrimEnd('/')}/{ArchiveFiles.RelativeFolder(record.TableName, record.RangeStart, format)}/{name}";
        await UploadToS3Async(ManifestPath(record.LocalPath!), _options.S3Bucket!, ArchiveFiles.ManifestBeside(key), cancellationToken);
        await UploadToS3Async(record.LocalPath!, _options.S3Bucket!, key, cancellationToken);
        await SetStatusAsync(record.Id, record.Status, ArchiveStatus.RemoteVerified, "remote_verified_at", _options.S3Bucket, key, cancellationToken);
        record.Status = ArchiveStatus.RemoteVerified;
        return key;
    }

    private async Task S3CallAsync(string bucket, Func<IAmazonS3, Task> call, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            await call(S3());
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == "NoSuchBucket" || ex.StatusCode == System.Net.HttpStatusCode.NotFound && ex.ErrorCode != "NoSuchKey")
        {
            // Some S3-compatible stores answer a missing bucket with a bare 404: ask before blaming the bucket.
            if (ex.ErrorCode == "NoSuchBucket" || !await BucketExistsAsync(bucket))
            {
                throw new InvalidOperationException($"The S3 bucket '{bucket}' does not exist; create it or fix ARCHIVE_S3_BUCKET.", ex);
            }

            throw;
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode is "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "AccessDenied" or "ExpiredToken"
                                           || ex.StatusCode == System.Net.HttpStatusCode.Forbidden)
        {
            throw new InvalidOperationException(
                $"S3 refused the credentials for bucket '{bucket}' ({ex.ErrorCode}); check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket policy.", ex);
        }
    }

    private async Task<bool> BucketExistsAsync(string bucket)
    {
        try
        {
            await S3().GetBucketLocationAsync(bucket);
            return true;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    private AmazonS3Client S3()
    {
        if (_s3 is not null)
        {
            return _s3;
        }

        var config = new AmazonS3Config
        {
            ForcePathStyle = _options.ForcePathStyle, AuthenticationRegion = _options.Region,
            // Checksums are sent explicitly per request (UploadAsync); no automatic trailers.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (_options.ServiceUrl is { Length: > 0 } url)
        {
            config.ServiceURL = url;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(_options.Region);
        }

        _s3 = _options.AccessKeyId is { Length: > 0 } key
            ? new AmazonS3Client(new BasicAWSCredentials(key, _options.SecretAccessKey), config)
            : new AmazonS3Client(config);
        return _s3;
    }
}
