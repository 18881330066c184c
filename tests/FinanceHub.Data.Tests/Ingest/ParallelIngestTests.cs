using FinanceHub.Data.Ingest;
using FinanceHub.Data.Tests.Infrastructure;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Ingest;

/// <summary>
/// Loads over several COPY streams (IngestOptions.Parallelism): the same rows as the source, all or nothing, and the
/// conflict modes. The oracle is a table the test fills by plain SQL, compared by an md5 over ordered rows.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class ParallelIngestTests(DatabaseFixture fixture)
{
    private static readonly DateTimeOffset Start = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero); // the oracle's first bar

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_parallel_load_writes_exactly_the_source_rows_across_new_and_existing_chunks(int streams)
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        // Seven assets, 40 days of 10-minute bars: six 7-day chunks, one of them there before the load (an existing row).
        await OracleAsync(dataSource, assets: 7, days: 40);
        await dataSource.ExecuteAsync(
            "INSERT INTO asset_prices_historic SELECT * FROM oracle_prices WHERE date = (SELECT max(date) FROM oracle_prices) AND asset_id = 1");
        var rows = await ReadOracleAsync(dataSource, "date < (SELECT max(date) FROM oracle_prices) OR asset_id <> 1");

        var result = await LoadAsync(ingestor, rows, new IngestOptions { Parallelism = streams, RefreshAggregates = false });

        Assert.Equal((rows.Count, (long)rows.Count), (result.RowsRead, result.RowsWritten));
        Assert.Equal(await Md5Async(dataSource, "oracle_prices"), await Md5Async(dataSource, "asset_prices_historic"));
        // Each stream is a transaction of its own: the rows carry one xmin per stream, besides the row that was there.
        Assert.Equal(streams + 1, await dataSource.ScalarAsync<long>("SELECT count(DISTINCT xmin::text) FROM asset_prices_historic"));
        Assert.True(await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'asset_prices_historic'") >= 6);
    }

    [Fact]
    public async Task A_bad_row_or_a_duplicate_in_any_stream_leaves_no_row_of_the_load()
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        await OracleAsync(dataSource, assets: 4, days: 30);
        var rows = await ReadOracleAsync(dataSource, "true");
        var options = new IngestOptions { Parallelism = 2, RefreshAggregates = false };

        // The bad row comes last, after every stream has written rows into several chunks.
        var bad = await Assert.ThrowsAsync<InvalidRowException>(() =>
            LoadAsync(ingestor, [.. rows, rows[^1] with { Date = rows[^1].Date.AddMinutes(1), High = 1, Low = 2 }], options));
        // A duplicate of an early row, late in the load: the same key always meets in the same stream. Asset 1 in the
        // first chunk goes to the second stream ((1 + 0) % 2), so the error reported is not the first stream's.
        var duplicate = await Assert.ThrowsAsync<DuplicateRowException>(() => LoadAsync(ingestor, [.. rows, rows[4]], options));
        // A row already in the table, for a key of the second stream too (asset 3, first chunk).
        await dataSource.ExecuteAsync("INSERT INTO asset_prices_historic SELECT * FROM oracle_prices WHERE asset_id = 3 ORDER BY date LIMIT 1");
        var present = await Assert.ThrowsAsync<DuplicateRowException>(() => LoadAsync(ingestor, rows, options));

        Assert.Equal(rows.Count + 1, bad.RowNumber);
        Assert.Contains("Nothing was written", duplicate.Message, StringComparison.Ordinal);
        Assert.Contains("ConflictMode.Skip", present.Message, StringComparison.Ordinal);
        Assert.Equal(1L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic"));
        Assert.Equal(0L, await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"));
    }

    [Fact]
    public async Task Skip_and_update_over_several_streams_keep_or_replace_rows_as_one_stream_does()
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        await OracleAsync(dataSource, assets: 5, days: 20);
        var rows = await ReadOracleAsync(dataSource, "true");
        await dataSource.ExecuteAsync("INSERT INTO asset_prices_historic SELECT * FROM oracle_prices WHERE extract(minute FROM date) = 0");
        var present = await dataSource.ScalarAsync<long>("SELECT count(*) FROM asset_prices_historic");

        var skipped = await LoadAsync(ingestor, rows, new IngestOptions { Parallelism = 2, OnConflict = ConflictMode.Skip, RefreshAggregates = false });

        Assert.Equal((rows.Count - present, present), (skipped.RowsWritten, skipped.RowsSkipped));
        Assert.Equal(await Md5Async(dataSource, "oracle_prices"), await Md5Async(dataSource, "asset_prices_historic"));

        // Update: every close moves by +1, and a key loaded twice keeps its last row.
        await dataSource.ExecuteAsync("UPDATE oracle_prices SET close = close + 1, high = high + 1");
        var changed = await ReadOracleAsync(dataSource, "true");
        var twice = changed[10] with { Close = changed[10].Low };
        await dataSource.ExecuteAsync("UPDATE oracle_prices SET close = low WHERE asset_id = $1 AND date = $2",
            int.Parse(twice.Symbol[1..], System.Globalization.CultureInfo.InvariantCulture), twice.Date);
        var updated = await LoadAsync(ingestor, [.. changed, twice],
            new IngestOptions { Parallelism = 3, OnConflict = ConflictMode.Update, RefreshAggregates = false });

        Assert.Equal(rows.Count, updated.RowsWritten);
        Assert.Equal(await Md5Async(dataSource, "oracle_prices"), await Md5Async(dataSource, "asset_prices_historic"));
    }

    [Fact]
    public async Task Unknown_symbols_are_created_before_any_stream_needs_them_and_parallelism_is_checked()
    {
        var (ingestor, dataSource) = await NewDatabaseAsync();
        PriceRow[] rows = [.. Enumerable.Range(0, 3000).Select(i => new PriceRow(i % 3 == 0 ? "NEW1" : "NEW2", Start.AddMinutes(i), 10, 11, 9, 10, 1))];

        var result = await ingestor.IngestPricesAsync(rows,
            new IngestOptions { Parallelism = 2, OnUnknownSymbol = UnknownSymbolMode.Create, RefreshAggregates = false }, Ct);
        var invalid = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            ingestor.IngestPricesAsync(rows, new IngestOptions { Parallelism = 0 }, Ct));

        Assert.Equal(["NEW1", "NEW2"], result.AssetsCreated.Order());
        Assert.Equal(3000L, await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM asset_prices_historic p JOIN assets a ON a.id = p.asset_id WHERE a.symbol IN ('NEW1', 'NEW2')"));
        Assert.Contains("1 to 64", invalid.Message, StringComparison.Ordinal);
    }

    /// <summary>The oracle: assets A1..An and 10-minute bars for <paramref name="days"/> days, made by SQL alone.</summary>
    private static async Task OracleAsync(NpgsqlDataSource dataSource, int assets, int days)
    {
        await dataSource.ExecuteAsync(
            $"INSERT INTO assets (symbol, asset_type, quote_currency, is_active) SELECT 'A' || i, 'Crypto', 'USD', true FROM generate_series(1, {assets}) i");
        await dataSource.ExecuteAsync(
            $"""
            CREATE TABLE oracle_prices AS
            SELECT a.id AS asset_id, '2026-06-01 00:00:00+00'::timestamptz + make_interval(mins => 10 * g) AS date,
                   round((100 + a.id + sin(g) * 5)::numeric, 8) AS open, round((106 + a.id)::numeric, 8) AS high,
                   round((94 + a.id)::numeric, 8) AS low, round((100 + a.id + cos(g) * 5)::numeric, 8) AS close,
                   CASE WHEN g % 7 = 0 THEN round((100 + a.id)::numeric, 8) END AS adjusted_close,
                   round((g % 1000 + 0.12345678)::numeric, 8) AS volume, CASE WHEN g % 3 <> 0 THEN g % 500 END AS trade_count,
                   CASE WHEN g % 11 = 0 THEN 'feed, "quoted"' END AS source
            FROM assets a CROSS JOIN generate_series(0, {days * 144 - 1}) g
            """);
    }

    private static async Task<List<PriceRow>> ReadOracleAsync(NpgsqlDataSource dataSource, string where)
    {
        var rows = new List<PriceRow>();
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT a.symbol, o.date, o.open, o.high, o.low, o.close, o.volume, o.adjusted_close, o.trade_count, o.source
            FROM oracle_prices o JOIN assets a ON a.id = o.asset_id WHERE {where} ORDER BY o.date, o.asset_id
            """);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(new PriceRow(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetDecimal(2), reader.GetDecimal(3),
                reader.GetDecimal(4), reader.GetDecimal(5), reader.GetDecimal(6), reader.IsDBNull(7) ? null : reader.GetDecimal(7),
                reader.IsDBNull(8) ? null : reader.GetInt32(8), reader.IsDBNull(9) ? null : reader.GetString(9)));
        }

        return rows;
    }

    /// <summary>A load that must end within two minutes: streams waiting on each other would hang, not fail.</summary>
    private static Task<IngestResult> LoadAsync(BulkIngestor ingestor, IEnumerable<PriceRow> rows, IngestOptions options)
        => ingestor.IngestPricesAsync(rows, options, Ct).WaitAsync(TimeSpan.FromMinutes(2), Ct);

    private static Task<string> Md5Async(NpgsqlDataSource dataSource, string table)
        => dataSource.ScalarAsync<string>(
            $"""
            SELECT md5(string_agg(ROW(asset_id, date, open, high, low, close, adjusted_close, volume, trade_count, source)::text, ',' ORDER BY asset_id, date))
            FROM {table}
            """);

    private async Task<(BulkIngestor Ingestor, NpgsqlDataSource DataSource)> NewDatabaseAsync()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("parallel_ingest", migrate: true);
        return (Ingestor(dataSource), dataSource);
    }
}
