using FinanceHub.Data.Telemetry;
using Npgsql;

// ReSharper disable once CheckNamespace
namespace OpenTelemetry.Metrics;

/// <summary>Adds FinanceHub.Data's metrics to an OpenTelemetry meter provider.</summary>
public static class FinanceHubMeterProviderBuilderExtensions
{
    /// <summary>Rows ingested, archived (and bytes), restored and converted; maintenance outcomes; refresh durations.</summary>
    public static MeterProviderBuilder AddFinanceHubDataInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(FinanceHubTelemetry.MeterName);
    }
}

/// <summary>Adds FinanceHub.Data's traces, and Npgsql's, to an OpenTelemetry tracer provider.</summary>
public static class FinanceHubTracerProviderBuilderExtensions
{
    /// <summary>Npgsql's spans (one per command, with the SQL) and the project's (<see cref="FinanceHubTelemetry.ActivitySourceName"/>).</summary>
    public static OpenTelemetry.Trace.TracerProviderBuilder AddFinanceHubDataInstrumentation(this OpenTelemetry.Trace.TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddNpgsql().AddSource(FinanceHubTelemetry.ActivitySourceName);
    }
}
