using FinanceHub.Data.Health;
using Microsoft.Extensions.Diagnostics.HealthChecks;

// ReSharper disable once CheckNamespace
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the FinanceHub database health check.</summary>
public static class FinanceHubHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds <see cref="FinanceHubHealthCheck"/> (named <paramref name="name"/>, tagged <c>database</c> and <c>timescaledb</c>):
    /// Unhealthy when the server or TimescaleDB is missing, Degraded for pending migrations, failing jobs, stale aggregates
    /// or a backlog, with each finding in the result's data. Needs <c>services.AddFinanceHubData(configuration)</c>.
    /// </summary>
    public static IHealthChecksBuilder AddFinanceHubData(
        this IHealthChecksBuilder builder, string name = "financehub-database", Action<FinanceHubHealthCheckOptions>? configure = null,
        HealthStatus failureStatus = HealthStatus.Unhealthy, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<FinanceHubHealthCheckOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return builder.AddCheck<FinanceHubHealthCheck>(name, failureStatus, ["database", "timescaledb"], timeout ?? TimeSpan.FromSeconds(30));
    }
}
