using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// The connection comes from FINANCEHUB_CONNECTION_STRING or TIMESCALE_DB_* (or FinanceHub:Database in configuration).
var configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
await using var services = new ServiceCollection().AddFinanceHubData(configuration).BuildServiceProvider();

// Bulk ingest (binary COPY, all or nothing): two days of hourly bars of a symbol that does not exist yet.
var ingestor = services.GetRequiredService<IBulkIngestor>();
var start = new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);
PriceRow[] rows = [.. Enumerable.Range(0, 48).Select(h => new PriceRow("DEMO", start.AddHours(h), Open: 100 + h, High: 101 + h, Low: 99 + h, Close: 100.5m + h, Volume: 10))];
var loaded = await ingestor.IngestPricesAsync(rows, new IngestOptions { OnUnknownSymbol = UnknownSymbolMode.Create, OnConflict = ConflictMode.Update });
Console.WriteLine($"loaded {loaded.RowsWritten} rows; created: {string.Join(", ", loaded.AssetsCreated)}");

// Daily OHLCV candles, [start, end): from the aggregates where they can serve, raw rows elsewhere.
var repository = services.GetRequiredService<ITimeSeriesRepository>();
var result = await repository.GetOhlcvAsync("DEMO", BucketWidth.OneDay, start, start.AddDays(2));
foreach (var candle in result.Candles)
{
    Console.WriteLine($"{candle.Bucket:yyyy-MM-dd} open {candle.Open:0.##} high {candle.High:0.##} low {candle.Low:0.##} close {candle.Close:0.##} volume {candle.Volume:0.##}");
}
