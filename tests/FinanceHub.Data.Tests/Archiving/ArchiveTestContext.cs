using Amazon.Runtime;
using Amazon.S3;
using FinanceHub.Data.Archiving;
using FinanceHub.Data.Tests.Infrastructure;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Archiving;

/// <summary>A migrated database, a folder and (when the stack provides one) an S3 bucket of its own, and an archiver over them.</summary>
public sealed class ArchiveTestContext : IAsyncDisposable
{
    private ArchiveTestContext(NpgsqlDataSource dataSource, string connectionString, ArchiveOptions options, AmazonS3Client? s3)
    {
        DataSource = dataSource;
        ConnectionString = connectionString;
        Options = options;
        S3 = s3;
        Archiver = CreateArchiver();
    }

    public NpgsqlDataSource DataSource { get; }

    public string ConnectionString { get; }

    public ArchiveOptions Options { get; }

    public AmazonS3Client? S3 { get; }

    public DataArchiver Archiver { get; }

    /// <summary>The S3 endpoint of the local stack (moto), from AWS_ENDPOINT_URL_S3.</summary>
    public static string? S3Endpoint => Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL_S3");

    public static void RequireS3()
        => Assert.SkipWhen(string.IsNullOrEmpty(S3Endpoint),
            "Needs an S3-compatible server: AWS_ENDPOINT_URL_S3 is not set (eng/devstack.sh env sets it for the local stack's moto_server).");

    public static async Task<ArchiveTestContext> CreateAsync(DatabaseFixture fixture, string purpose, bool withS3, string? createOptions = null)
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync(purpose, migrate: true, createOptions);
        // Every gzip CSV restore into an empty range goes over parallel streams, as large ones do by default, so that
        // every archive test holds for that path; tests of the single transaction set RestoreStreams = 1.
        var options = new ArchiveOptions
        {
            BasePath = Path.Combine(Path.GetTempPath(), $"financehub-archive-tests-{Guid.NewGuid():N}"), MultipartPartSize = 5 * 1024 * 1024,
            ParallelRestoreMinRows = 0,
        };
        AmazonS3Client? s3 = null;
        if (withS3)
        {
            RequireS3();
            options.S3Bucket = $"fh-test-{Guid.NewGuid():N}"[..30];
            options.ServiceUrl = S3Endpoint;
            options.ForcePathStyle = true;
            options.AccessKeyId = "testing";
            options.SecretAccessKey = "testing";
            s3 = new AmazonS3Client(new BasicAWSCredentials("testing", "testing"),
                new AmazonS3Config { ServiceURL = S3Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
            await s3.PutBucketAsync(options.S3Bucket);
        }

        return new ArchiveTestContext(dataSource, connectionString, options, s3);
    }

    public DataArchiver CreateArchiver()
    {
        var manager = Manager(DataSource);
        return new DataArchiver(DataSource, manager, Microsoft.Extensions.Options.Options.Create(Options), TimeProvider.System, NullLogger<DataArchiver>.Instance);
    }

    /// <summary>Metrics every 10 minutes for <paramref name="days"/> days up to now: daily chunks.</summary>
    public Task<int> SeedMetricsAsync(int days)
        => DataSource.ExecuteAsync(
            """
            INSERT INTO performance_metrics (created_at, metric_name, value, unit, service, host)
            SELECT t, 'm' || (extract(minute FROM t)::int % 3), random() * 100, 'ms', 'api', NULL
            FROM generate_series(now() - make_interval(days => $1), now(), interval '10 minutes') t
            """, days);

    /// <summary>
    /// Stops the retention policies' jobs of the community edition in this database (the Apache edition's run only when
    /// asked), for tests whose rows are older than a retention: else the scheduler may drop them mid-test.
    /// </summary>
    public Task HoldRetentionAsync()
        => DataSource.ExecuteAsync(
            """
            DO $$
            BEGIN
                IF financehub.timescale_license() = 'timescale' THEN
                    PERFORM alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention';
                END IF;
            END $$
            """);

    /// <summary>The oracle of the api_usage_logs tests: row count and an md5 over the rows' text in id order, in plain SQL.</summary>
    public async Task<(long Rows, string Md5)> ApiUsageLogsMd5Async(DateTimeOffset start, DateTimeOffset end)
    {
        var row = (await DataSource.QueryAsync(
            "SELECT count(*), md5(coalesce(string_agg(l::text, '|' ORDER BY id), '')) FROM api_usage_logs l WHERE created_at >= $1 AND created_at < $2", start, end))[0];
        return ((long)row[0]!, (string)row[1]!);
    }

    /// <summary>
    /// The oracle of the no-row-lost tests: an md5 over the text of every row of a table with <c>created_at</c> and <c>id</c>
    /// columns, in that order, in plain SQL (a truncated, duplicated or altered archive that was restored changes it).
    /// </summary>
    public Task<string> ContentMd5Async(string table)
        => DataSource.ScalarAsync<string>($"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY created_at, id), '')) FROM {table} t");

    /// <summary>Restores every archived-and-dropped range of the last 30 days of <paramref name="table"/>: what the archives hold comes back.</summary>
    public Task<IReadOnlyList<RestoreResult>> RestoreEverythingAsync(string table)
        => Archiver.RestoreRangeAsync(table, DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow, TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        Archiver.Dispose();
        S3?.Dispose();
        await DataSource.DisposeAsync();
        if (Directory.Exists(Options.BasePath))
        {
            Directory.Delete(Options.BasePath, recursive: true);
        }
    }
}
