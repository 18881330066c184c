using FinanceHub.Data.Configuration;
using FinanceHub.Data.Timescale;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Testcontainers.PostgreSql;

[assembly: FinanceHub.Data.Tests.Infrastructure.DropTestDatabases]

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

    /// <summary>Every database made, with the test class that made it (null: the fixture's own, kept to the end of the run).</summary>
    private readonly List<(string Name, string? Class)> _databases = [];
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

    /// <summary>The run's fixture, for <see cref="DropTestDatabasesAttribute"/>.</summary>
    internal static DatabaseFixture? Current { get; private set; }

    public async ValueTask InitializeAsync()
    {
        Current = this;
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
    /// Skips the calling test when the server lets a login in with a wrong password (pg_hba <c>trust</c>, a test server's
    /// usual setting): a test of what happens when the password is refused cannot run there.
    /// </summary>
    public async Task RequirePasswordChecksAsync()
    {
        var wrong = new NpgsqlConnectionStringBuilder(ConnectionString) { Password = "financehub-not-the-password", Pooling = false, Timeout = 10 };
        await using var connection = new NpgsqlConnection(wrong.ConnectionString);
        var trusted = true;
        try
        {
            await connection.OpenAsync(TestContext.Current.CancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState.StartsWith("28", StringComparison.Ordinal))
        {
            trusted = false;
        }

        Assert.SkipWhen(trusted,
            $"The server at {wrong.Host}:{wrong.Port} accepts any password for {wrong.Username} (pg_hba.conf trust), so a refused login cannot be tested; " +
            "run the tests against a server that checks passwords (the local stack, eng/devstack.sh, uses scram-sha-256).");
    }

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
            _databases.Add((name, TestContext.Current.TestClass?.TestClassName));
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
            foreach (var (name, _) in _databases)
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

    /// <summary>
    /// Drops the databases that earlier test classes made, when the tests of <paramref name="testClass"/> begin (the
    /// collection runs one class at a time; some classes share one database between their tests). Every database with
    /// TimescaleDB holds a background worker for its job scheduler while it exists: kept to the end of the run, a few
    /// dozen test databases would take every worker, and the jobs of the next ones would never start, while a server
    /// whose policy jobs run when due is what the tests must run under.
    /// </summary>
    internal void EnterClass(string testClass)
    {
        List<string> names;
        lock (_databases)
        {
            names = [.. _databases.Where(d => d.Class is not null && d.Class != testClass).Select(d => d.Name)];
            _databases.RemoveAll(d => d.Class is not null && d.Class != testClass);
        }

        if (names.Count == 0)
        {
            return;
        }

        // Synchronous: xunit's before-test hook is. WITH (FORCE) ends what a test left connected (a killed process's pool).
        using var server = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ServerConnectionString) { Timeout = 60, CommandTimeout = 0 }.ConnectionString);
        server.Open();
        foreach (var name in names)
        {
            using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", server);
            drop.ExecuteNonQuery();
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

/// <summary>Before each test of the database collection, drops the databases of the classes before it (<see cref="DatabaseFixture.EnterClass"/>).</summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class DropTestDatabasesAttribute : Xunit.v3.BeforeAfterTestAttribute
{
    public override void Before(System.Reflection.MethodInfo methodUnderTest, Xunit.v3.IXunitTest test)
    {
        ArgumentNullException.ThrowIfNull(test);
        if (test.TestCase.TestCollection.TestCollectionDisplayName == DatabaseCollectionDefinition.Name)
        {
            DatabaseFixture.Current?.EnterClass(test.TestCase.TestClass.TestClassName);
        }
    }
}
