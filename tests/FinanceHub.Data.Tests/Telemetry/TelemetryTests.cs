using System.Diagnostics;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Telemetry;
using FinanceHub.Data.Tests.Infrastructure;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace FinanceHub.Data.Tests.Telemetry;

/// <summary>The project's meter and traces, and Npgsql's, through OpenTelemetry's in-memory exporter.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class TelemetryTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ingest_refresh_and_maintenance_are_measured_and_a_refresh_is_traced_with_npgsqls_spans_inside()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("telemetry", migrate: true);
        await using var _ = dataSource;
        var metrics = new List<Metric>();
        var activities = new List<Activity>();
        using (var meterProvider = Sdk.CreateMeterProviderBuilder().AddFinanceHubDataInstrumentation().AddInMemoryExporter(metrics).Build())
        using (var tracerProvider = Sdk.CreateTracerProviderBuilder().AddFinanceHubDataInstrumentation().AddInMemoryExporter(activities).Build())
        {
            await dataSource.InsertAssetAsync("OTEL");
            var start = new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);
            var result = await TestServices.Ingestor(dataSource).IngestPricesAsync(
                Enumerable.Range(0, 1_234).Select(i => new PriceRow("OTEL", start.AddMinutes(i), 1, 2, 1, 1.5m, 3)), new IngestOptions { RefreshAggregates = false }, Ct);
            await TestServices.Manager(dataSource).RefreshContinuousAggregateAsync(Aggregates.Hourly, cancellationToken: Ct);
            var maintenance = await TestServices.Manager(dataSource).RunMaintenanceAsync(force: true, Ct);
            Assert.Equal(1_234, result.RowsWritten);

            meterProvider.ForceFlush();
            tracerProvider.ForceFlush();

            Assert.Equal(1_234L, Sum(metrics, "financehub.ingest.rows", ("table", "asset_prices_historic")));
            Assert.True(Count(metrics, "financehub.aggregate.refresh.duration", ("view", Aggregates.Hourly)) >= 1);
            Assert.NotEmpty(maintenance);
            Assert.Equal(maintenance.Count, Sum(metrics, "financehub.maintenance.runs"));
            var refresh = Assert.Single(activities, a => a.Source.Name == FinanceHubTelemetry.ActivitySourceName && a.DisplayName == "financehub.aggregate.refresh"
                && Equals(a.GetTagItem("financehub.view"), Aggregates.Hourly));
            // Npgsql's own spans of the statements the refresh ran, as its children.
            Assert.Contains(activities, a => a.Source.Name == "Npgsql" && a.ParentSpanId == refresh.SpanId);
        }
    }

    private static long Sum(List<Metric> metrics, string name, params (string Key, string Value)[] tags)
        => Total(metrics, name, tags, static (in MetricPoint p) => p.GetSumLong());

    private static long Count(List<Metric> metrics, string name, params (string Key, string Value)[] tags)
        => Total(metrics, name, tags, static (in MetricPoint p) => p.GetHistogramCount());

    private delegate long PointValue(in MetricPoint point);

    private static long Total(List<Metric> metrics, string name, (string Key, string Value)[] tags, PointValue value)
    {
        long total = 0;
        foreach (var metric in metrics.Where(m => m.Name == name))
        {
            foreach (ref readonly var point in metric.GetMetricPoints())
            {
                if (Matches(point, tags))
                {
                    total += value(in point);
                }
            }
        }

        return total;
    }

    private static bool Matches(MetricPoint point, (string Key, string Value)[] tags)
    {
        var present = new Dictionary<string, object?>();
        foreach (var tag in point.Tags)
        {
            present[tag.Key] = tag.Value;
        }

        return tags.All(t => present.TryGetValue(t.Key, out var v) && Equals(v, t.Value));
    }
}
