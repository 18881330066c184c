using System.Diagnostics;
using FinanceHub.Data.Configuration;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace FinanceHub.Data.Benchmarks;

/// <summary>A fresh, migrated database for one benchmark run, and the services over it.</summary>
internal sealed class BenchmarkDatabase : IAsyncDisposable
{
    private readonly string _server;

    private BenchmarkDatabase(string server, string connectionString, string name)
    {
        _server = server;
        ConnectionString = connectionString;
        Name = name;
        DataSource = NpgsqlDataSource.Create(connectionString);
        Maintenance = new MaintenanceRunner(DataSource, TimeProvider.System, NullLogger<MaintenanceRunner>.Instance);
        Manager = new TimescaleManager(DataSource, Maintenance, NullLogger<TimescaleManager>.Instance);
        Ingestor = new BulkIngestor(DataSource, Manager, NullLogger<BulkIngestor>.Instance);
    }

    public string ConnectionString { get; }

    public string Name { get; }

    public NpgsqlDataSource DataSource { get; }

    public MaintenanceRunner Maintenance { get; }

    public TimescaleManager Manager { get; }

    public BulkIngestor Ingestor { get; }

    public static async Task<BenchmarkDatabase> CreateAsync(string? migrateTo = null, bool migrate = true)
    {
        var options = DatabaseOptions.FromEnvironment();
        var server = new NpgsqlConnectionStringBuilder(options.BuildConnectionString("FinanceHub.Data.Benchmarks")) { Database = "postgres", CommandTimeout = 0 }.ConnectionString;
        var name = $"fh_bench_{DateTime.UtcNow:yyyyMMddHHmmss}";
        await using (var admin = NpgsqlDataSource.Create(server))
        await using (var create = admin.CreateCommand($"CREATE DATABASE {name}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
        var database = new BenchmarkDatabase(server, connectionString, name);
        if (migrate)
        {
            await using var context = database.CreateContext();
            await context.GetService<Microsoft.EntityFrameworkCore.Migrations.IMigrator>().MigrateAsync(migrateTo);
        }

        return database;
    }

    public FinanceHubDbContext CreateContext()
    {
        var builder = new DbContextOptionsBuilder<FinanceHubDbContext>();
        builder.UseFinanceHubNpgsql(DataSource);
        return new FinanceHubDbContext(builder.Options);
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Runs psql against this database with <paramref name="arguments"/>; returns the wall time.</summary>
    public async Task<TimeSpan> PsqlAsync(string shellPipeline)
    {
        var b = new NpgsqlConnectionStringBuilder(ConnectionString);
        var start = new ProcessStartInfo("bash", ["-o", "pipefail", "-c", shellPipeline]) { RedirectStandardError = true };
        start.Environment["PGHOST"] = b.Host;
        start.Environment["PGPORT"] = b.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["PGDATABASE"] = b.Database;
        start.Environment["PGUSER"] = b.Username;
        start.Environment["PGPASSWORD"] = b.Password;
        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        stopwatch.Stop();
        return process.ExitCode == 0 ? stopwatch.Elapsed : throw new InvalidOperationException($"psql failed: {error}");
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var admin = NpgsqlDataSource.Create(_server);
        await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)");
        await drop.ExecuteNonQueryAsync();
    }
}
