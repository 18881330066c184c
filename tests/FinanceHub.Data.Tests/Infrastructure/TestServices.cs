using FinanceHub.Data.Cli;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace FinanceHub.Data.Tests.Infrastructure;

/// <summary>The library's services over a test database, wired as DI wires them, and the CLI run in-process.</summary>
public static class TestServices
{
    public static TimescaleManager Manager(NpgsqlDataSource dataSource)
        => new(dataSource, new MaintenanceRunner(dataSource, TimeProvider.System, NullLogger<MaintenanceRunner>.Instance), NullLogger<TimescaleManager>.Instance);

    public static BulkIngestor Ingestor(NpgsqlDataSource dataSource) => new(dataSource, Manager(dataSource), NullLogger<BulkIngestor>.Instance);

    /// <summary>Runs financehub-data in-process with redirected output; returns its exit code and what it wrote.</summary>
    public static async Task<(int Code, string Output, string Error)> RunCliAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApplication.RunAsync(args, output, error, interactive: false, TestContext.Current.CancellationToken);
        return (code, output.ToString(), error.ToString());
    }
}
