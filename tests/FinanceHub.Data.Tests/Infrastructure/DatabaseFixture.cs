using FinanceHub.Data.Configuration;
using FinanceHub.Data.Timescale;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Testcontainers.PostgreSql;

namespace FinanceHub.Data.Tests.Infrastructure;

/// <summary>
/// One PostgreSQL + TimescaleDB server for the whole run, and one migrated database on it shared by the tests
/// (migrated with the real migrations, never EnsureCreated). The server comes from the environment
/// (FINANCEHUB_CONNECTION_STRING or TIMESCALE_DB_*, as eng/devstack.sh env prints), else from Testcontainers
/// with a pinned image; with neither, every test fails saying how to get one.
/// </summary>
public sealed class DatabaseFixture : IAsyncLifetime
{
    /// <summary>Pinned: the same TimescaleDB release as Debian's package in the local stack, community edition.</summary>
    public const string TimescaleImage = "timescale/timescaledb:2.19.3-pg17";

    private readonly List<string> _databases = [];
    private PostgreSqlContainer? _container;

    /// <summary>Connection string of the server's maintenance database (<c>postgres</c>).</summary>
    public string ServerConnectionString { get; private set; } = "";

    /// <summary>Connection string of the shared, migrated test database.</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>Data source over <see cref="ConnectionString"/>.</summary>
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    /// <summary>Edition of the server.</summary>
    public TimescaleEdition Edition { get; private set; }

    /// <summary>Whether the server runs the community edition.</summary>
    public bool IsCommunity => Edition == TimescaleEdition.Community;

    public async ValueTask InitializeAsync()
    {
        ServerConnectionString = await ResolveServerAsync();
        (ConnectionString, DataSource) = await CreateDatabaseAsync("shared", migrate: true);
        await using var command = DataSource.CreateCommand("SELECT financehub.timescale_license()");
        Edition = (string?)await command.ExecuteScalarAsync() switch
        {
            "timescale" => TimescaleEdition.Community,
            "apache" => TimescaleEdition.Apache,
            _ => TimescaleEdition.None,
        };
    }

    /// <summary>Skips the calling test unless the server runs the community edition.</summary>
    public void RequireCommunity()
        => Assert.SkipUnless(IsCommunity,
            $"Needs the TimescaleDB community edition (timescaledb.license = timescale); this server runs the {Edition} edition. " +
            "Point FINANCEHUB_CONNECTION_STRING at a community-edition server to run it.");

    /// <summary>Skips the calling test unless the server runs the Apache edition (tests of the emulation).</summary>
    public void RequireApache()
        => Assert.SkipUnless(Edition == TimescaleEdition.Apache,
            $"Tests the Apache-edition emulation; this server runs the {Edition} edition, where the feature is native and tested natively.");

    /// <summary>
    /// A new, empty database on the server, dropped at the end of the run; migrated to the latest migration when
    /// <paramref name="migrate"/> is true. <paramref name="createOptions"/>: a test's own constant, appended to CREATE DATABASE.
    /// </summary>
    public async Task<(string ConnectionString, NpgsqlDataSource DataSource)> CreateDatabaseAsync(string purpose, bool migrate, string? createOptions = null)
    {
        var name = $"fh_test_{purpose}_{Guid.NewGuid():N}"[..Math.Min(63, 22 + purpose.Length)].ToLowerInvariant();
        await using (var server = NpgsqlDataSource.Create(ServerConnectionString))
        await using (var create = server.CreateCommand($"CREATE DATABASE \"{name}\" {createOptions}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        lock (_databases)
        {
            _databases.Add(name);
        }

        var connectionString = new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = name }.ConnectionString;
        var dataSource = NpgsqlDataSource.Create(connectionString);
        if (migrate)
        {
            await using var context = CreateContext(dataSource);
            context.Database.SetCommandTimeout(Data.Migrations.FinanceHubDesignTimeDbContextFactory.MigrationCommandTimeout);
            await context.Database.MigrateAsync();
        }

        return (connectionString, dataSource);
    }

    /// <summary>A context over <paramref name="dataSource"/> configured as the application configures it.</summary>
    public static FinanceHubDbContext CreateContext(NpgsqlDataSource dataSource)
    {
        var builder = new DbContextOptionsBuilder<FinanceHubDbContext>();
        builder.UseFinanceHubNpgsql(dataSource);
        return new FinanceHubDbContext(builder.Options);
    }

    /// <summary>A context over the shared test database.</summary>
    public FinanceHubDbContext CreateContext() => CreateContext(DataSource);

    public async ValueTask DisposeAsync()
    {
        if (DataSource is not null)
        {
            await DataSource.DisposeAsync();
        }

        NpgsqlConnection.ClearAllPools();
        if (ServerConnectionString.Length > 0)
        {
            await using var server = NpgsqlDataSource.Create(ServerConnectionString);
            foreach (var name in _databases)
            {
                await using var drop = server.CreateCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                await drop.ExecuteNonQueryAsync();
            }
        }

        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }

    private async Task<string> ResolveServerAsync()
    {
        var options = DatabaseOptions.FromEnvironment();
        if (options.IsConfigured)
        {
            return new NpgsqlConnectionStringBuilder(options.BuildConnectionString("FinanceHub.Data.Tests"))
            {
                Database = "postgres",
                IncludeErrorDetail = true,
            }.ConnectionString;
        }

        try
        {
            _container = new PostgreSqlBuilder(TimescaleImage)
                .WithCommand("-c", "timescaledb.telemetry_level=off")
                .Build();
            await _container.StartAsync();
            return new NpgsqlConnectionStringBuilder(_container.GetConnectionString()) { Database = "postgres" }.ConnectionString;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidOperationException(
                "No database for the tests: FINANCEHUB_CONNECTION_STRING and TIMESCALE_DB_HOST are not set, and Testcontainers " +
                $"could not start {TimescaleImage} ({ex.GetType().Name}: {ex.Message}). Start the local stack and export its " +
                "settings: sudo eng/devstack.sh up && eval \"$(eng/devstack.sh env)\" (or simply run eng/test.sh).", ex);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class DatabaseCollectionDefinition : ICollectionFixture<DatabaseFixture>
{
    public const string Name = "database";
}
