using FinanceHub.Data.Cli;
using FinanceHub.Data.Configuration;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Timescale;
using FinanceHub.Data.Timescale.Maintenance;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FinanceHub.Data.Tests.Infrastructure;

/// <summary>The library's services over a test database, wired as DI wires them, and the CLI run in-process.</summary>
public static class TestServices
{
    public static TimescaleManager Manager(NpgsqlDataSource dataSource, RefreshRetryOptions? refreshRetry = null)
    {
        var options = Options.Create(new DatabaseOptions { AggregateRefreshRetry = refreshRetry ?? new() });
        return new(dataSource, new MaintenanceRunner(dataSource, TimeProvider.System, NullLogger<MaintenanceRunner>.Instance, options),
            NullLogger<TimescaleManager>.Instance, options);
    }

    public static BulkIngestor Ingestor(NpgsqlDataSource dataSource, RefreshRetryOptions? refreshRetry = null)
        => new(dataSource, Manager(dataSource, refreshRetry), NullLogger<BulkIngestor>.Instance);

    /// <summary>Runs financehub-data in-process with redirected output; returns its exit code and what it wrote.</summary>
    public static async Task<(int Code, string Output, string Error)> RunCliAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApplication.RunAsync(args, output, error, interactive: false, TestContext.Current.CancellationToken);
        return (code, output.ToString(), error.ToString());
    }
}
