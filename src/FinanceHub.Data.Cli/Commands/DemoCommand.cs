using System.CommandLine;
using System.Globalization;
using FinanceHub.Data.Archiving;
using FinanceHub.Data.Entities;
using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Timescale;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary>
/// <c>demo</c>: the product doing its job on a deterministic data set. A year of one-minute prices for four assets
/// (a seeded random walk) through the bulk ingest, the maintenance that is due, a week of daily candles, and an archive
/// round trip (export, delete, restore) checked by an md5 over the ordered rows. Safe to run again: loaded rows are not
/// loaded twice, the archive of the demo day is reused.
/// </summary>
internal sealed class DemoCommand(CliContext context) : ICliCommand
{
    private static readonly (string Symbol, decimal Start, double Volatility)[] Assets =
        [("DEMOBTC", 60_000m, 0.0009), ("DEMOETH", 3_000m, 0.0011), ("DEMOAAPL", 190m, 0.0004), ("DEMOMSFT", 420m, 0.0004)];

    private const string RangeMd5 = """
        SELECT count(*), coalesce(md5(string_agg(concat_ws('|', asset_id, date, open, high, low, close, volume), ',' ORDER BY asset_id, date)), 'empty')
        FROM asset_prices_historic WHERE date >= $1 AND date < $2
        """;

    private readonly Option<int> _days = new("--days") { Description = "Days of one-minute prices to load (365).", DefaultValueFactory = _ => 365 };

    public Command Build()
    {
        var command = new Command("demo", "Load a deterministic demo data set (a year of one-minute prices, 4 assets), run maintenance, show a week of daily candles, and archive and restore a day, verified.")
        {
            _days,
        };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var days = parseResult.GetValue(_days);
        if (days is < 8 or > 3_650)
        {
            throw new CliUsageException($"--days must be between 8 and 3650; got {days}.");
        }

        await using var services = CliContext.CreateServices(parseResult);
        var dataSource = services.GetRequiredService<NpgsqlDataSource>();
        var end = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero);
        var start = end.AddDays(-days);
        var json = CliContext.Json(parseResult);

        // 1. Load, skipping what an earlier run loaded.
        var expected = (long)days * 1_440 * Assets.Length;
        var present = await CountAsync(dataSource, start, end, cancellationToken);
        IngestResult? loaded = null;
        if (present < expected)
        {
            var ingestor = services.GetRequiredService<IBulkIngestor>();
            var options = new IngestOptions { OnConflict = ConflictMode.Skip, OnUnknownSymbol = UnknownSymbolMode.Create };
            if (context.Interactive && !json)
            {
                loaded = await context.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .StartAsync(async progress =>
                    {
                        var task = progress.AddTask($"loading {expected:N0} demo prices");
                        task.MaxValue = expected;
                        return await ingestor.IngestPricesAsync(Prices(start, days), options with { Progress = CliContext.Inline<long>(n => task.Value = n) }, cancellationToken);
                    });
            }
            else
            {
                loaded = await ingestor.IngestPricesAsync(Prices(start, days),
                    options with { Progress = context.ProgressLines<long>(n => string.Create(CultureInfo.InvariantCulture, $"loaded {n:N0} of {expected:N0} demo prices")) },
                    cancellationToken);
            }
        }

        // 2. Maintenance that is due (retention, refreshes, compression; the project's policies on Apache).
        var maintenance = await services.GetRequiredService<ITimescaleManager>().RunMaintenanceAsync(cancellationToken: cancellationToken);

        // 3. A week of daily candles.
        var week = await services.GetRequiredService<ITimeSeriesRepository>().GetOhlcvAsync(Assets[0].Symbol, "1day", end.AddDays(-7), end, cancellationToken: cancellationToken);

        // 4. Archive a day, delete it, restore it: the same rows, by an md5 over them computed by PostgreSQL.
        var archiver = services.GetRequiredService<IDataArchiver>();
        var (dayStart, dayEnd) = (start.AddDays(1), start.AddDays(2));
        var before = await Md5Async(dataSource, dayStart, dayEnd, cancellationToken);
        var archive = (await archiver.ListLocalArchivesAsync(cancellationToken: cancellationToken))
            .FirstOrDefault(a => a.Manifest.Table == Hypertables.AssetPrices.Table && a.Manifest.RangeStart == dayStart && a.Manifest.RangeEnd == dayEnd && a.Manifest.RowCount == before.Rows && a.LocalPath is not null)
            ?? await archiver.ArchiveTableAsync(new ArchiveRequest(Hypertables.AssetPrices.Table, dayStart, dayEnd), cancellationToken: cancellationToken);
        // Only the demo's own rows are deleted; rows of other assets in the archive are there already and stay as they are.
        await using (var delete = dataSource.CreateCommand(
            "DELETE FROM asset_prices_historic p USING assets a WHERE a.id = p.asset_id AND a.symbol = ANY ($3) AND p.date >= $1 AND p.date < $2"))
        {
            delete.CommandTimeout = 0;
            delete.Parameters.Add(new() { Value = dayStart });
            delete.Parameters.Add(new() { Value = dayEnd });
            delete.Parameters.Add(new() { Value = Assets.Select(a => a.Symbol).ToArray() });
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }

        var restored = await archiver.RestoreFromArchiveAsync(archive.LocalPath!, cancellationToken: cancellationToken);
        var after = await Md5Async(dataSource, dayStart, dayEnd, cancellationToken);
        var check = (await archiver.VerifyArchivesAsync(cancellationToken: cancellationToken)).FirstOrDefault(c => c.ArchiveId == archive.Manifest.Id);
        var roundTrip = new
        {
            archive = archive.LocalPath,
            rangeStart = dayStart,
            rangeEnd = dayEnd,
            rowsArchived = archive.Manifest.RowCount,
            rowsRestored = restored.RowsRestored,
            md5Before = before.Md5,
            md5After = after.Md5,
            identical = before == after,
            archiveCheck = check?.Ok == true ? "ok" : check is null ? "not in the catalog" : $"local {check.Local}, remote {check.Remote}",
        };

        if (json)
        {
            await context.WriteJsonAsync(new { loaded, alreadyPresent = present, maintenance, candles = week, roundTrip });
        }
        else
        {
            var console = context.Console;
            console.Write(new Rule("demo data").LeftJustified());
            await context.Output.WriteLineAsync(loaded is null
                ? string.Create(CultureInfo.InvariantCulture, $"{present:N0} one-minute prices of {string.Join(", ", Assets.Select(a => a.Symbol))} from {start:yyyy-MM-dd} to {end:yyyy-MM-dd} were already loaded.")
                : string.Create(CultureInfo.InvariantCulture, $"loaded {loaded.RowsWritten:N0} prices ({loaded.RowsSkipped:N0} already there) in {loaded.Elapsed.TotalSeconds:N1} s ({loaded.RowsWritten / Math.Max(loaded.Elapsed.TotalSeconds, 0.001):N0} rows/s)"));
            console.Write(new Rule("maintenance").LeftJustified());
            var runs = new Table().AddColumns("policy", "kind", "target", "outcome", "detail");
            foreach (var r in maintenance)
            {
                runs.AddRow(Format.Escape(r.Policy), r.Kind, Format.Escape(r.Target), r.Outcome.ToString(), Format.Escape(r.Detail));
            }

            console.Write(maintenance.Count == 0 ? new Text("nothing was due\n") : runs);
            console.Write(new Rule($"{week.Symbol}: daily candles of the last week ({week.AggregateUsed ?? "raw rows"})").LeftJustified());
            var candles = new Table().AddColumns("day (UTC)", "open", "high", "low", "close", "volume");
            foreach (var c in week.Candles)
            {
                candles.AddRow(c.Bucket.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), Number(c.Open), Number(c.High), Number(c.Low), Number(c.Close), Number(c.Volume));
            }

            console.Write(candles);
            console.Write(new Rule("archive round trip").LeftJustified());
            await context.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{dayStart:yyyy-MM-dd}: {archive.Manifest.RowCount:N0} rows archived to {archive.LocalPath}, deleted, {restored.RowsRestored:N0} restored; " +
                $"md5 before {before.Md5}, after {after.Md5}: {(before == after ? "identical" : "DIFFERENT")}; archive check: {roundTrip.archiveCheck}"));
        }

        return before == after && check?.Ok == true ? ExitCodes.Ok : ExitCodes.Failed;
    }

    /// <summary>One-minute bars of a random walk per asset, seeded by the asset, so every run makes the same prices.</summary>
    private static IEnumerable<PriceRow> Prices(DateTimeOffset start, int days)
    {
        var minutes = days * 1_440;
        var walks = Assets.Select((a, i) => (a.Symbol, Price: (double)a.Start, a.Volatility, Random: new Random(20_260_101 + i))).ToArray();
        for (var m = 0; m < minutes; m++)
        {
            var time = start.AddMinutes(m);
            for (var i = 0; i < walks.Length; i++)
            {
                ref var walk = ref walks[i];
                var open = walk.Price;
                var close = open * Math.Exp(walk.Volatility * Gaussian(walk.Random));
                var high = Math.Max(open, close) * (1 + (walk.Volatility * walk.Random.NextDouble()));
                var low = Math.Min(open, close) * (1 - (walk.Volatility * walk.Random.NextDouble()));
                walk.Price = close;
                yield return new PriceRow(walk.Symbol, time, Round(open), Round(high), Round(low), Round(close), Math.Round((decimal)(walk.Random.NextDouble() * 50), 4));
            }
        }
    }

    private static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static decimal Round(double value) => Math.Round((decimal)value, 4);

    private static string Number(decimal value) => value.ToString("N4", CultureInfo.InvariantCulture);

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT count(*) FROM asset_prices_historic p JOIN assets a ON a.id = p.asset_id WHERE a.symbol = ANY ($1) AND p.date >= $2 AND p.date < $3");
        command.CommandTimeout = 0;
        command.Parameters.Add(new() { Value = Assets.Select(a => a.Symbol).ToArray() });
        command.Parameters.Add(new() { Value = start });
        command.Parameters.Add(new() { Value = end });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<(long Rows, string Md5)> Md5Async(NpgsqlDataSource dataSource, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RangeMd5);
        command.CommandTimeout = 0;
        command.Parameters.Add(new() { Value = start });
        command.Parameters.Add(new() { Value = end });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetString(1));
    }
}
