using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace FinanceHub.Data.Telemetry;

/// <summary>
/// The project's metrics (<see cref="MeterName"/>) and traces (<see cref="ActivitySourceName"/>), for OpenTelemetry or any
/// <see cref="MeterListener"/>. Register them with <c>AddFinanceHubDataInstrumentation()</c> on a meter or tracer provider
/// builder; Npgsql's own spans come with the tracer registration.
/// </summary>
public static class FinanceHubTelemetry
{
    /// <summary>Name of the project's <see cref="Meter"/>.</summary>
    public const string MeterName = "FinanceHub.Data";

    /// <summary>Name of the project's <see cref="ActivitySource"/>.</summary>
    public const string ActivitySourceName = "FinanceHub.Data";

    private static readonly Meter Meter = new(MeterName, typeof(FinanceHubTelemetry).Assembly.GetName().Version?.ToString());

    internal static readonly ActivitySource Source = new(ActivitySourceName, typeof(FinanceHubTelemetry).Assembly.GetName().Version?.ToString());

    private static readonly Counter<long> IngestedRows = Meter.CreateCounter<long>("financehub.ingest.rows", "{row}", "Rows written by bulk ingest.");
    private static readonly Counter<long> ArchivedRows = Meter.CreateCounter<long>("financehub.archive.rows", "{row}", "Rows exported to archives.");
    private static readonly Counter<long> ArchivedBytes = Meter.CreateCounter<long>("financehub.archive.bytes", "By", "Bytes of archive files written.");
    private static readonly Counter<long> RestoredRows = Meter.CreateCounter<long>("financehub.restore.rows", "{row}", "Rows restored from archives.");
    private static readonly Counter<long> ConvertedRows = Meter.CreateCounter<long>("financehub.conversion.rows", "{row}", "Rows copied by online conversions.");
    private static readonly Counter<long> MaintenanceRuns = Meter.CreateCounter<long>("financehub.maintenance.runs", "{run}", "Maintenance policy runs, by kind and outcome.");
    private static readonly Histogram<double> RefreshDuration = Meter.CreateHistogram<double>("financehub.aggregate.refresh.duration", "s", "Duration of aggregate refreshes.");

    internal static void Ingested(string table, long rows) => IngestedRows.Add(rows, new KeyValuePair<string, object?>("table", table));

    internal static void Archived(string table, long rows, long bytes)
    {
        ArchivedRows.Add(rows, new KeyValuePair<string, object?>("table", table));
        ArchivedBytes.Add(bytes, new KeyValuePair<string, object?>("table", table));
    }

    internal static void Restored(string table, long rows) => RestoredRows.Add(rows, new KeyValuePair<string, object?>("table", table));

    internal static void Converted(string table, long rows) => ConvertedRows.Add(rows, new KeyValuePair<string, object?>("table", table));

    internal static void Maintained(string kind, string outcome)
        => MaintenanceRuns.Add(1, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("outcome", outcome));

    internal static void Refreshed(string view, TimeSpan duration, string status)
        => RefreshDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("view", view), new KeyValuePair<string, object?>("status", status));
}
