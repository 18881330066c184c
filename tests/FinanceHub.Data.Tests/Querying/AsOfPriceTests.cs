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
        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed"));
        var deadId = await dataSource.ScalarAsync<int>("SELECT id FROM assets WHERE symbol = 'DEAD'");

        // The trap: DEAD's last row is five chunks before the instant, and every chunk in between is full of other assets'
        // rows. Asked plainly, PostgreSQL walks the time index through them (these chunks are not vacuumed).
        var plain = await RowsReadAsync(dataSource,
            "SELECT date FROM asset_prices_historic WHERE asset_id = $1 AND date <= $2 ORDER BY date DESC LIMIT 1", deadId, Last);
        Assert.True(plain.Time > 1_000, $"the plain query read {plain}: the trap this test guards against is not set");

        // The function probes the (asset_id, date) key: one entry, in the chunk that has it.
        var dead = await LookupReadsAsync(dataSource, ["DEAD"], Last);
        Assert.Equal((1L, 0L, 0L), dead);

        // A portfolio reads the chunk's last N rows before the instant (N assets: N entries of the time index to find
        // where they start, then those rows), and probes only the assets not among them: none here.
        var portfolio = await LookupReadsAsync(dataSource, Live, Last);
        Assert.True(portfolio is { Key: 0, Sequential: 0, Time: > 0 } && portfolio.Time <= 3 * Live.Length, $"30 assets' lookup read {portfolio}");

        // Ten days in: the live assets from the window; DEAD, GAPPY (in its hole) and LATE (not listed yet) by probes,
        // through older chunks for the first two.
        var historic = await LookupReadsAsync(dataSource, All, First.AddDays(15).AddMinutes(1));
        Assert.True(historic.Sequential == 0 && historic.Key <= 4 && historic.Time <= 3 * All.Length, $"34 symbols fifteen days in read {historic}");
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
    public async Task Instants_at_a_chunks_first_microsecond_and_just_before_it_are_answered_exactly()
    {
        var (dataSource, repository) = await SetUpAsync();
        var starts = (await dataSource.QueryAsync(
                "SELECT range_start FROM timescaledb_information.chunks WHERE hypertable_name = 'asset_prices_historic' ORDER BY range_start"))
            .Select(r => new DateTimeOffset((DateTime)r[0]!, TimeSpan.Zero)).Where(t => t > First).ToList();
        Assert.True(starts.Count >= 5, $"{starts.Count} chunk starts inside the data");
        var instants = starts.SelectMany(t => new[] { t, t.AddTicks(-10) }).ToList();

        // Every symbol as of one instant (the window path), then one symbol per instant (the probe path).
        foreach (var at in instants)
        {
            Assert.Equal(await ExpectedAsync(dataSource, All.Select(s => (s, at)).ToList(), null), await repository.GetPricesAsOfAsync(All, at, cancellationToken: Ct));
        }

        var requests = instants.SelectMany(t => All.Select(s => new AsOfRequest(s, t))).Where((_, i) => i % 3 == 0).ToList();
        Assert.Equal(await ExpectedAsync(dataSource, requests.Select(r => (r.Symbol, r.At)).ToList(), null),
            await repository.GetPricesAsOfAsync(requests, cancellationToken: Ct));
    }

    [Fact]
    public async Task Staleness_is_measured_in_hours_not_in_the_sessions_calendar_days()
    {
        // Berlin's clocks went back on 2026-10-25 (01:00 UTC): that calendar day had 25 hours. A price 24.5 hours old is
        // older than a limit of one day, whatever the session's time zone.
        var (connectionString, created) = await fixture.CreateDatabaseAsync("asof_dst", migrate: true);
        await created.DisposeAsync();
        await using var berlin = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Timezone = "Europe/Berlin" }.ConnectionString);
        await using (var load = berlin.CreateCommand(
            """
            INSERT INTO assets (symbol, asset_type, quote_currency, is_active) VALUES ('DST', 'Stock', 'EUR', true);
            INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume, source)
            SELECT id, '2026-10-25T00:00:00Z', 10, 11, 9, 10.5, 1, 'test' FROM assets
            """))
        {
            await load.ExecuteNonQueryAsync(Ct);
        }

        var repository = new AsOfPriceRepository(berlin);
        var at = new DateTimeOffset(2026, 10, 26, 0, 30, 0, TimeSpan.Zero);

        var stale = await repository.GetPriceAsOfAsync("DST", at, new AsOfOptions { MaxAge = TimeSpan.FromDays(1) }, Ct);
        var found = await repository.GetPriceAsOfAsync("DST", at, new AsOfOptions { MaxAge = TimeSpan.FromHours(24.5) }, Ct);

        Assert.Equal((AsOfStatus.Stale, TimeSpan.FromHours(24.5)), (stale.Status, stale.Age!.Value));
        Assert.Equal(AsOfStatus.Found, found.Status);
    }

    [Fact]
    public async Task Linq_rows_equal_the_max_date_rows_with_unknown_symbols_in_between()
    {
        var (dataSource, _) = await SetUpAsync();
        var at = First.AddDays(19).AddMinutes(52);
        string[] symbols = ["S07", "NOPE", "DEAD", "GAPPY", "S07", "NONE"];
        await using var context = DatabaseFixture.CreateContext(dataSource);

        var rows = await context.PricesAsOf(symbols, at).OrderBy(p => p.Ordinal).ToListAsync(Ct);

        var expected = await ExpectedAsync(dataSource, symbols.Select(s => (s, at)).ToList(), null);
        Assert.Equal(Enumerable.Range(1, symbols.Length).Select(i => (long)i), rows.Select(r => r.Ordinal));
        Assert.Equal(symbols, rows.Select(r => r.Symbol));
        Assert.Equal(expected.Select(e => e.LatestDate), rows.Select(r => r.LatestDate));
        Assert.Equal(expected.Select(e => e.Price?.Close), rows.Select(r => r.Close));
        Assert.Equal(expected.Select(e => e.Price?.Volume), rows.Select(r => r.Volume));
        Assert.Equal(expected.Select(e => e.Price?.AdjustedClose), rows.Select(r => r.AdjustedClose));
        Assert.Equal([false, true, false, false, false, false], rows.Select(r => r.AssetId is null));
    }

    [Fact]
    public async Task Requests_the_function_cannot_answer_are_refused_with_the_reason()
    {
        var (dataSource, _) = await SetUpAsync();
        async Task<string> RefusedAsync(string sql)
            => (await Assert.ThrowsAsync<PostgresException>(() => dataSource.ScalarAsync<long>(sql))).MessageText;

        Assert.Contains("same length", await RefusedAsync("SELECT count(*) FROM financehub.prices_as_of_join(ARRAY['S01'], ARRAY[now(), now()])"), StringComparison.Ordinal);
        Assert.Contains("request 2 has no symbol", await RefusedAsync("SELECT count(*) FROM financehub.prices_as_of_join(ARRAY['S01', NULL], ARRAY[now(), now()])"), StringComparison.Ordinal);
        Assert.Contains("request 1 has no instant", await RefusedAsync("SELECT count(*) FROM financehub.prices_as_of(ARRAY['S01'], NULL)"), StringComparison.Ordinal);
        Assert.Contains("must not be negative", await RefusedAsync("SELECT count(*) FROM financehub.prices_as_of(ARRAY['S01'], now(), '-1 day')"), StringComparison.Ordinal);
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
    /// Rows read from the price chunks by one statement, from PostgreSQL's statistics of the calling transaction
    /// (PostgreSQL 15 and later): entries returned by the (asset_id, date) key, by the time index, and rows read by
    /// sequential scans.
    /// </summary>
    private static async Task<(long Key, long Time, long Sequential)> RowsReadAsync(NpgsqlDataSource dataSource, string sql, params object[] parameters)
    {
        await using var connection = await dataSource.OpenConnectionAsync(Ct);
        // The "transaction" counters are the backend's counts not yet flushed, which can include earlier transactions
        // of this pooled connection: flush them first.
        await using (var flush = new NpgsqlCommand("SELECT pg_stat_force_next_flush()", connection))
        {
            await flush.ExecuteNonQueryAsync(Ct);
        }

        await using var transaction = await connection.BeginTransactionAsync(Ct);
        await using (var call = new NpgsqlCommand(sql, connection, transaction))
        {
            foreach (var parameter in parameters)
            {
                call.Parameters.Add(new() { Value = parameter });
            }

            await call.ExecuteNonQueryAsync(Ct);
        }

        await using var read = new NpgsqlCommand(
            """
            WITH chunks AS (SELECT show_chunks('asset_prices_historic')::oid AS relid)
            SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(i.indexrelid)) FILTER (WHERE i.indisprimary), 0),
                   coalesce(sum(pg_stat_get_xact_tuples_returned(i.indexrelid)) FILTER (WHERE NOT i.indisprimary), 0),
                   (SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(relid)), 0) FROM chunks)
            FROM pg_index i WHERE i.indrelid IN (SELECT relid FROM chunks)
            """, connection, transaction);
        await using var reader = await read.ExecuteReaderAsync(Ct);
        await reader.ReadAsync(Ct);
        return (reader.GetFieldValue<long>(0), reader.GetFieldValue<long>(1), reader.GetFieldValue<long>(2));
    }

    private static Task<(long Key, long Time, long Sequential)> LookupReadsAsync(NpgsqlDataSource dataSource, string[] symbols, DateTimeOffset at)
        => RowsReadAsync(dataSource, "SELECT count(*) FROM financehub.prices_as_of($1, $2)", symbols, at);

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
                // Nothing changes the data behind the tests' backs: on the community edition the columnstore and retention
                // policies are paused (these 2026 prices are old enough for both), and autovacuum stays off, so the chunks
                // stay as a load leaves them (not vacuumed: no page all-visible).
                if (fixture.IsCommunity)
                {
                    await dataSource.ExecuteAsync("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs");
                }

                await dataSource.ExecuteAsync("ALTER TABLE asset_prices_historic SET (autovacuum_enabled = false)");
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
                await dataSource.ExecuteAsync(
                    "DO $$ DECLARE c regclass; BEGIN FOR c IN SELECT show_chunks('asset_prices_historic') LOOP EXECUTE format('ALTER TABLE %s SET (autovacuum_enabled = false)', c); END LOOP; END $$");
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
