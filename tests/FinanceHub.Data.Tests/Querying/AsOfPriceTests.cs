using FinanceHub.Data.Ingest;
using FinanceHub.Data.Querying;
using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Tests.Querying;

/// <summary>
/// As-of prices against plain SQL written in the test (the row whose date is the max(date) at or before the instant),
/// on irregular data: a delisted asset, one listed late, one without prices, one with a ten-day hole, rows with and
/// without adjusted closes and trade counts.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class AsOfPriceTests(DatabaseFixture fixture)
{
    private static readonly DateTimeOffset First = new(2026, 9, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Last = First.AddDays(42);
    private static readonly SemaphoreSlim InitLock = new(1, 1);
    private static NpgsqlDataSource? _dataSource;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] Live = [.. Enumerable.Range(1, 30).Select(i => $"S{i:00}")];
    private static readonly string[] All = [.. Live, "DEAD", "LATE", "NONE", "GAPPY"];

    [Fact]
    public async Task A_portfolio_as_of_many_instants_equals_the_max_date_rows()
    {
        var (dataSource, repository) = await SetUpAsync();
        var random = new Random(17);
        var instants = new List<DateTimeOffset> { First.AddDays(-1), First, First.AddMinutes(15).AddTicks(-10), Last.AddDays(1), First.AddDays(7), First.AddDays(7).AddTicks(-10) };
        instants.AddRange(Enumerable.Range(0, 20).Select(_ => First.AddDays(-1).AddSeconds(random.NextDouble() * TimeSpan.FromDays(44).TotalSeconds)));
        instants.AddRange(Enumerable.Range(0, 5).Select(_ => First.AddMinutes(15 * random.Next(0, 42 * 96)))); // exactly a row's time

        foreach (var at in instants)
        {
            var actual = await repository.GetPricesAsOfAsync(All, at, cancellationToken: Ct);
            var expected = await ExpectedAsync(dataSource, All.Select(s => (s, at)).ToList(), null);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public async Task A_price_older_than_the_limit_is_reported_stale_with_its_date()
    {
        var (dataSource, repository) = await SetUpAsync();
        var at = First.AddDays(20).AddMinutes(7);
        var maxAge = TimeSpan.FromHours(1);

        var actual = await repository.GetPricesAsOfAsync(All, at, new AsOfOptions { MaxAge = maxAge }, Ct);

        Assert.Equal(await ExpectedAsync(dataSource, All.Select(s => (s, at)).ToList(), maxAge), actual);
        var dead = actual.Single(p => p.Symbol == "DEAD");
        Assert.Equal((AsOfStatus.Stale, null), (dead.Status, dead.Price));
        Assert.Equal(First.AddDays(7).AddMinutes(-15), dead.LatestDate);
        Assert.Equal(AsOfStatus.NoPrice, actual.Single(p => p.Symbol == "NONE").Status);
        Assert.Equal(AsOfStatus.NoPrice, actual.Single(p => p.Symbol == "LATE").Status);
        Assert.Equal(AsOfStatus.Found, actual.Single(p => p.Symbol == "S01").Status);

        // A price exactly as old as the limit still counts.
        var exact = await repository.GetPriceAsOfAsync("S01", First.AddDays(3), new AsOfOptions { MaxAge = TimeSpan.Zero }, Ct);
        Assert.Equal((AsOfStatus.Found, First.AddDays(3)), (exact.Status, exact.Price!.Date));
    }

    [Fact]
    public async Task Trade_times_and_metric_timestamps_are_valued_by_an_as_of_join()
    {
        var (dataSource, repository) = await SetUpAsync();
        // Irregular instants, as trade times or metric timestamps are: every 5 h 7 min 13.5 s from two days before the
        // first price (performance_metrics itself keeps 30 days, so its rows here would be gone on a community server).
        var instants = Enumerable.Range(0, 200).Select(i => First.AddDays(-2) + i * new TimeSpan(0, 5, 7, 13, 500));
        var requests = instants.Select((t, i) => new AsOfRequest(All[i % All.Length].ToLowerInvariant() + " ", t)).ToList();

        var actual = await repository.GetPricesAsOfAsync(requests, new AsOfOptions { MaxAge = TimeSpan.FromDays(2) }, Ct);

        var expected = await ExpectedAsync(dataSource, requests.Select(r => (r.Symbol.Trim().ToUpperInvariant(), r.At)).ToList(), TimeSpan.FromDays(2));
        Assert.Equal(expected, actual);
        Assert.Contains(actual, p => p.Status == AsOfStatus.Stale);
        Assert.Contains(actual, p => p.Status == AsOfStatus.NoPrice);
    }

    [Fact]
    public async Task Linq_reads_the_same_prices_and_composes()
    {
        var (dataSource, repository) = await SetUpAsync();
        var at = First.AddDays(30).AddMinutes(40);
        await using var context = DatabaseFixture.CreateContext(dataSource);

        var linq = await context.PricesAsOf(All, at).Where(p => p.Close != null).OrderBy(p => p.Symbol).ToListAsync(Ct);
        var joined = await (from p in context.PricesAsOf(All, at, TimeSpan.FromHours(1))
                            join a in context.Assets on p.AssetId equals a.Id
                            where a.IsActive
                            orderby p.Ordinal
                            select new { a.Symbol, p.Close, p.LatestDate }).ToListAsync(Ct);
        var zipped = await context.PricesAsOfJoin(["S02", "S02"], [First.AddDays(1), First.AddDays(2)]).OrderBy(p => p.Ordinal).Select(p => p.Date).ToListAsync(Ct);

        var expected = (await repository.GetPricesAsOfAsync(All, at, cancellationToken: Ct)).Where(p => p.Price is not null).OrderBy(p => p.Symbol, StringComparer.Ordinal).ToList();
        Assert.Equal(expected.Select(p => (p.Symbol, p.Price!.Date, p.Price.Close, p.Price.Volume)),
            linq.Select(p => (p.Symbol, p.Date!.Value, p.Close!.Value, p.Volume!.Value)));
        Assert.Equal(All.Where(s => s != "DEAD"), joined.Select(p => p.Symbol)); // DEAD is the inactive asset
        Assert.Equal(expected.Single(p => p.Symbol == "S05").Price!.Close, joined.Single(p => p.Symbol == "S05").Close);
        Assert.Equal((null, null), (joined.Single(p => p.Symbol == "NONE").Close, joined.Single(p => p.Symbol == "NONE").LatestDate));
        Assert.Equal([First.AddDays(1), First.AddDays(2)], zipped);
    }

    [Fact]
    public async Task Lookups_read_a_few_rows_per_asset_never_a_scan()
    {
        var (dataSource, _) = await SetUpAsync();
        var chunks = await dataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'asset_prices_historic'");

        // DEAD's last row is five chunks before the instant, and every chunk in between is full of other assets' rows.
        // Walking the time index to it reads thousands of them (PostgreSQL chose that here, on chunks not yet vacuumed,
        // before the function costed index tuples higher); probing the (asset_id, date) key reads the one row found.
        var dead = await RowsReadAsync(dataSource, ["DEAD"], Last);
        Assert.True(dead <= 2 * chunks, $"as of the end, DEAD's lookup read {dead} rows over {chunks} chunks");

        // A portfolio reads the chunk's last N rows before the instant (N assets: N entries of the time index to find
        // where they start, then those rows) and probes the assets not among them: about two rows per asset.
        var portfolio = await RowsReadAsync(dataSource, Live, Last);
        Assert.True(portfolio <= 3 * Live.Length, $"30 assets' lookup read {portfolio} rows");

        var historic = await RowsReadAsync(dataSource, All, First.AddDays(10).AddMinutes(1));
        Assert.True(historic <= 3 * All.Length + 2 * chunks, $"34 symbols ten days in read {historic} rows");
    }

    [Fact]
    public async Task Compressed_chunks_answer_like_the_rest()
    {
        fixture.RequireCommunity();
        var (_, dataSource) = await fixture.CreateDatabaseAsync("asof_compressed", migrate: true);
        await using var _ = dataSource;
        await using (var load = dataSource.CreateCommand(
            """
            INSERT INTO assets (symbol, asset_type, quote_currency, is_active) SELECT 'C' || i, 'Stock', 'USD', true FROM generate_series(1, 20) i;
            INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume, source)
            SELECT a.id, t, 100 + a.id, 101 + a.id, 99 + a.id, round(100 + a.id + extract(epoch FROM t)::bigint % 1000 / 997.0, 8), 1, 'test'
            FROM assets a CROSS JOIN generate_series('2026-06-01'::timestamptz, '2026-07-20', interval '30 minutes') t
            WHERE a.symbol <> 'C7' OR t < '2026-06-10'
            """))
        {
            await load.ExecuteNonQueryAsync(Ct);
        }

        var compressed = await dataSource.ScalarAsync<long>(
            "SELECT count(compress_chunk(c)) FROM show_chunks('asset_prices_historic', older_than => '2026-07-10'::timestamptz) c");
        Assert.True(compressed >= 5, $"{compressed} chunks compressed");
        var repository = new AsOfPriceRepository(dataSource);
        var symbols = Enumerable.Range(1, 20).Select(i => $"C{i}").ToList();

        foreach (var at in new DateTimeOffset[] { new(2026, 6, 20, 10, 7, 0, TimeSpan.Zero), new(2026, 7, 19, 0, 0, 0, TimeSpan.Zero), new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero) })
        {
            var actual = await repository.GetPricesAsOfAsync(symbols, at, cancellationToken: Ct);
            Assert.Equal(await ExpectedAsync(dataSource, symbols.Select(s => (s, at)).ToList(), null), actual);
        }

        var joined = symbols.Select((s, i) => new AsOfRequest(s, new DateTimeOffset(2026, 6, 2, 0, 0, 0, TimeSpan.Zero).AddHours(i * 31))).ToList();
        Assert.Equal(await ExpectedAsync(dataSource, joined.Select(r => (r.Symbol, r.At)).ToList(), null),
            await repository.GetPricesAsOfAsync(joined, cancellationToken: Ct));
    }

    [Fact]
    public async Task Unknown_symbols_are_named_together()
    {
        var (_, repository) = await SetUpAsync();

        var error = await Assert.ThrowsAsync<UnknownSymbolException>(() => repository.GetPricesAsOfAsync(["S01", "NOPE", "ZZZ"], Last, cancellationToken: Ct));

        Assert.Contains("NOPE, ZZZ", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => repository.GetPricesAsOfAsync(["S01"], Last, new AsOfOptions { MaxAge = TimeSpan.FromMinutes(-1) }, Ct));
        Assert.Empty(await repository.GetPricesAsOfAsync(Array.Empty<string>(), Last, cancellationToken: Ct));
    }

    /// <summary>
    /// Rows read from the price chunks (index entries returned plus rows read by sequential scans) by one call, from
    /// PostgreSQL's statistics of the calling transaction (PostgreSQL 15 and later).
    /// </summary>
    private static async Task<long> RowsReadAsync(NpgsqlDataSource dataSource, string[] symbols, DateTimeOffset at)
    {
        await using var connection = await dataSource.OpenConnectionAsync(Ct);
        // The "transaction" counters are the backend's counts not yet flushed, which can include earlier transactions
        // of this pooled connection: flush them first.
        await using (var flush = new NpgsqlCommand("SELECT pg_stat_force_next_flush()", connection))
        {
            await flush.ExecuteNonQueryAsync(Ct);
        }

        await using var transaction = await connection.BeginTransactionAsync(Ct);
        await using (var call = new NpgsqlCommand("SELECT count(*) FROM financehub.prices_as_of($1, $2)", connection, transaction))
        {
            call.Parameters.Add(new() { Value = symbols, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            call.Parameters.Add(new() { Value = at.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            Assert.Equal((long)symbols.Length, (long)(await call.ExecuteScalarAsync(Ct))!);
        }

        await using var read = new NpgsqlCommand(
            """
            WITH chunks AS (SELECT show_chunks('asset_prices_historic')::oid AS relid),
            relations AS (SELECT relid FROM chunks UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT relid FROM chunks))
            -- A table's count is rows read by sequential scans, an index's the entries its scans returned.
            SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(relid)), 0),
                   string_agg(relid::regclass || ': ' || pg_stat_get_xact_tuples_returned(relid), ', ') FILTER (WHERE pg_stat_get_xact_tuples_returned(relid) > 0)
            FROM relations
            """, connection, transaction);
        await using var reader = await read.ExecuteReaderAsync(Ct);
        await reader.ReadAsync(Ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"{string.Join(",", symbols.Take(3))}...: {(reader.IsDBNull(1) ? "nothing read" : reader.GetString(1))}");
        return Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The test's oracle: per request, the row whose date is the max(date) of the asset at or before the instant.</summary>
    private static async Task<List<AsOfPrice>> ExpectedAsync(NpgsqlDataSource dataSource, List<(string Symbol, DateTimeOffset At)> requests, TimeSpan? maxAge)
    {
        var expected = new List<AsOfPrice>();
        foreach (var (symbol, at) in requests)
        {
            var rows = await dataSource.QueryAsync(
                """
                SELECT p.date, p.open, p.high, p.low, p.close, p.adjusted_close, p.volume, p.trade_count
                FROM asset_prices_historic p JOIN assets a ON a.id = p.asset_id
                WHERE a.symbol = $1 AND p.date = (SELECT max(q.date) FROM asset_prices_historic q WHERE q.asset_id = a.id AND q.date <= $2)
                """, symbol, at.UtcDateTime);
            if (rows.Count == 0)
            {
                expected.Add(new AsOfPrice(symbol, at, AsOfStatus.NoPrice, null, null));
                continue;
            }

            var r = rows.Single();
            var date = new DateTimeOffset((DateTime)r[0]!, TimeSpan.Zero);
            var price = new PricePoint(date, (decimal)r[1]!, (decimal)r[2]!, (decimal)r[3]!, (decimal)r[4]!, (decimal?)r[5], (decimal)r[6]!, (int?)r[7]);
            expected.Add(maxAge is { } limit && at - date > limit
                ? new AsOfPrice(symbol, at, AsOfStatus.Stale, null, date)
                : new AsOfPrice(symbol, at, AsOfStatus.Found, price, date));
        }

        return expected;
    }

    private async Task<(NpgsqlDataSource DataSource, AsOfPriceRepository Repository)> SetUpAsync()
    {
        await InitLock.WaitAsync(Ct);
        try
        {
            if (_dataSource is null)
            {
                var (_, dataSource) = await fixture.CreateDatabaseAsync("asof", migrate: true);
                // 15-minute bars over six weeks (six or seven chunks). Values from hashes: deterministic, irregular decimals.
                // Analyzed, not vacuumed: no page is all-visible yet, as right after a load.
                NpgsqlParameter[] Bounds() =>
                [
                    new() { Value = First.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz },
                    new() { Value = Last.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz },
                ];
                await using var batch = dataSource.CreateBatch();
                batch.BatchCommands.Add(new NpgsqlBatchCommand("INSERT INTO assets (symbol, asset_type, quote_currency, is_active) SELECT s, 'Stock', 'USD', s <> 'DEAD' FROM unnest($1::text[]) s")
                {
                    Parameters = { new() { Value = All } },
                });
                var prices = new NpgsqlBatchCommand(
                    """
                    INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, adjusted_close, volume, trade_count, source)
                    SELECT a.id, t, o, o + 1.5, o - 1.25, o + (h % 100) / 1000.0, CASE WHEN h % 3 = 0 THEN o * 0.98 END, abs(h % 100000) / 7.0,
                           CASE WHEN h % 5 <> 0 THEN abs(h % 500) END, 'django'
                    FROM assets a
                    CROSS JOIN generate_series($1, $2 - interval '15 minutes', interval '15 minutes') t
                    CROSS JOIN LATERAL (SELECT hashtext(a.symbol || t::text) AS h) x
                    CROSS JOIN LATERAL (SELECT round(100 + abs(h % 1000000) / 997.0, 8) AS o) y
                    WHERE a.symbol <> 'NONE'
                      AND (a.symbol <> 'DEAD' OR t < $1 + interval '7 days')
                      AND (a.symbol <> 'LATE' OR t >= $1 + interval '25 days')
                      AND (a.symbol <> 'GAPPY' OR (extract(hour FROM t)::int % 6 = 0 AND extract(minute FROM t) = 0
                                                   AND t NOT BETWEEN $1 + interval '12 days' AND $1 + interval '22 days'))
                    """);
                prices.Parameters.AddRange(Bounds());
                batch.BatchCommands.Add(prices);
                batch.BatchCommands.Add(new NpgsqlBatchCommand("ANALYZE assets"));
                await batch.ExecuteNonQueryAsync(Ct);
                await using (var vacuum = dataSource.CreateCommand("ANALYZE asset_prices_historic"))
                {
                    await vacuum.ExecuteNonQueryAsync(Ct);
                }

                _dataSource = dataSource;
            }

            return (_dataSource, new AsOfPriceRepository(_dataSource));
        }
        finally
        {
            InitLock.Release();
        }
    }
}
