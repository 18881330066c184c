using System.Globalization;
using System.Text.Json;
using FinanceHub.Data.Conversion;
using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using static FinanceHub.Data.Tests.Infrastructure.TestServices;

namespace FinanceHub.Data.Tests.Conversion;

/// <summary>
/// The old Django application's database, converted the documented way (plan, run, finalize, baseline, migrate) while
/// the application writes; content compared by md5 over ordered rows computed by plain SQL, against an oracle table the
/// writer keeps in the same transactions.
/// </summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class OldApplicationConversionTests(DatabaseFixture fixture)
{
    private const string Prices = "asset_prices_historic";
    private const string Map = "api_usage_logs.duration_ms=response_time_ms";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_Django_database_goes_through_the_documented_path_to_the_last_migration_with_the_application_writing()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("django_path", migrate: false);
        await using var _ = dataSource;
        await OldApplication.CreateAsync(dataSource, prices: 250_000, metrics: 3_000, apiLogs: 120_000);
        var metricsBefore = await dataSource.ScalarAsync<string>(
            "SELECT md5(string_agg(concat_ws('|', id, created_at, metric_name, value, unit, service, host, asset_id, tags), ',' ORDER BY id)) FROM performance_metrics");
        var logsBefore = await dataSource.ScalarAsync<string>(
            "SELECT md5(string_agg(concat_ws('|', id, created_at, endpoint, method, status_code, response_time_ms::double precision, caller_id, client_ip, request_bytes), ',' ORDER BY id)) FROM api_usage_logs");
        var lastIdBefore = await dataSource.ScalarAsync<long>("SELECT max(id) FROM asset_prices_historic");

        // 1. The plan: every table, every step with its SQL; nothing changes.
        var plan = await RunCliAsync("convert", "plan", "--map", Map, "--json", "--connection", connectionString);
        var baselineTooEarly = await RunCliAsync("convert", "baseline", "--map", Map, "--connection", connectionString);

        Assert.True(plan.Code == 0, plan.Error + plan.Output);
        var tables = JsonDocument.Parse(plan.Output).RootElement.GetProperty("tables").EnumerateArray().ToList();
        var prices = tables.Single(t => t.GetProperty("table").GetString() == Prices);
        Assert.Equal("batched copy", prices.GetProperty("path").GetString());
        var steps = prices.GetProperty("steps").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => string.Join("\n", s.GetProperty("sql").EnumerateArray().Select(x => x.GetString())));
        Assert.Equal(["prepare", "copy", "validate", "swap", "finalize"], steps.Keys);
        Assert.Contains("PRIMARY KEY (\"asset_id\", \"date\")", steps["prepare"], StringComparison.Ordinal);
        Assert.Contains("UNIQUE (\"id\", \"date\")", steps["prepare"], StringComparison.Ordinal);
        Assert.Contains("ALTER SEQUENCE asset_prices_historic_id_seq OWNED BY \"asset_prices_historic\".\"id\"", steps["finalize"], StringComparison.Ordinal);
        Assert.Equal("in place", tables.Single(t => t.GetProperty("table").GetString() == "performance_metrics").GetProperty("path").GetString());
        Assert.Equal(1, baselineTooEarly.Code);
        Assert.Contains("convert it first", baselineTooEarly.Error, StringComparison.Ordinal);
        Assert.False(await dataSource.ScalarAsync<bool>("SELECT to_regclass('asset_prices_historic_hypertable_new') IS NOT NULL OR to_regclass('\"__EFMigrationsHistory\"') IS NOT NULL"));

        // 2. Convert every table while the application writes, then finalize.
        await using var writer = await OldApplication.Writer.StartAsync(dataSource);
        var run = await RunCliAsync("convert", "run", "--map", Map, "--connection", connectionString);
        var truncate = await Assert.ThrowsAsync<PostgresException>(() => dataSource.ExecuteAsync("TRUNCATE asset_prices_historic"));
        await Task.Delay(300, Ct);
        var finalize = await RunCliAsync("convert", "finalize", "--connection", connectionString);
        await Task.Delay(200, Ct);
        var (operations, maxWait) = await writer.StopAsync();

        Assert.True(run.Code == 0, run.Error);
        Assert.Contains("asset_prices_historic: Swapped", run.Output, StringComparison.Ordinal);
        Assert.Contains("performance_metrics: ConvertedInPlace", run.Output, StringComparison.Ordinal);
        Assert.Contains("api_usage_logs: Swapped", run.Output, StringComparison.Ordinal);
        Assert.Contains("refused while it is being converted", truncate.MessageText, StringComparison.Ordinal);
        Assert.True(finalize.Code == 0, finalize.Error);
        Assert.True(operations > 50, $"the writer did only {operations} operations");
        Assert.True(maxWait < TimeSpan.FromSeconds(5), $"a write waited {maxWait.TotalMilliseconds} ms");
        AssertSameContent(await OldApplication.PricesMd5Async(dataSource));
        Assert.Equal(0L, await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_pre\\_hypertable%' OR relname LIKE '%\\_hypertable\\_new%' OR relname LIKE '%\\_cnv%'"));

        // 3. Baseline and migrate to the last migration.
        var baseline = await RunCliAsync("convert", "baseline", "--map", Map, "--connection", connectionString);
        var migrate = await RunCliAsync("migrate", "--connection", connectionString);

        Assert.True(baseline.Code == 0, baseline.Error + baseline.Output);
        Assert.Contains("add column assets.quote_currency character(3) NOT NULL DEFAULT 'USD'", baseline.Output, StringComparison.Ordinal);
        Assert.True(migrate.Code == 0, migrate.Error);
        await using (var context = DatabaseFixture.CreateContext(dataSource))
        {
            Assert.Empty(await context.Database.GetPendingMigrationsAsync(Ct));
        }

        Assert.Equal(3L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM timescaledb_information.hypertables"));
        AssertSameContent(await OldApplication.PricesMd5Async(dataSource));
        Assert.Equal(metricsBefore, await dataSource.ScalarAsync<string>(
            "SELECT md5(string_agg(concat_ws('|', id, created_at, metric_name, value, unit, service, host, asset_id, tags), ',' ORDER BY id)) FROM performance_metrics"));
        Assert.Equal(logsBefore, await dataSource.ScalarAsync<string>(
            "SELECT md5(string_agg(concat_ws('|', id, created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, request_bytes), ',' ORDER BY id)) FROM api_usage_logs"));
        Assert.Equal("pk_asset_prices_historic", await dataSource.ScalarAsync<string>("SELECT conname::text FROM pg_constraint WHERE conrelid = 'asset_prices_historic'::regclass AND contype = 'p'"));
        Assert.Equal("(created_at, id)", await dataSource.ScalarAsync<string>(
            "SELECT substring(pg_get_constraintdef(oid) FROM '\\(.*\\)') FROM pg_constraint WHERE conrelid = 'performance_metrics'::regclass AND contype = 'p'"));
        Assert.Equal("double precision", await dataSource.ScalarAsync<string>(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'api_usage_logs'::regclass AND attname = 'duration_ms'"));

        // 4. The old application's inserts (no id) still work: the sequences carried over, owned by the hypertables.
        var newId = await dataSource.ScalarAsync<long>(
            "INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume) VALUES (1, now(), 1, 2, 1, 1.5, 3) RETURNING id");
        await dataSource.ExecuteAsync("INSERT INTO api_usage_logs (created_at, endpoint, method, status_code, duration_ms) VALUES (now(), '/x', 'GET', 200, 1.5)");
        Assert.True(newId > lastIdBefore, $"id {newId} reuses a value");
        Assert.Equal("public.asset_prices_historic_id_seq", await dataSource.ScalarAsync<string>("SELECT pg_get_serial_sequence('asset_prices_historic', 'id')"));
        Assert.Equal("public.api_usage_logs_id_seq", await dataSource.ScalarAsync<string>("SELECT pg_get_serial_sequence('api_usage_logs', 'id')"));
        Assert.Equal(1L, await dataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'asset_prices_historic'::regclass AND contype = 'f' AND confrelid = 'assets'::regclass"));

        // 5. The product works on it: daily candles of an asset equal a plain SQL computation over the rows.
        var day = await dataSource.ScalarAsync<DateTime>("SELECT date_trunc('day', max(date) - interval '3 days', 'UTC') FROM asset_prices_historic WHERE asset_id = 2");
        var from = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var to = day.AddDays(2).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var candles = await RunCliAsync("ohlcv", "DJ2", "--from", from, "--to", to, "--json", "--connection", connectionString);
        Assert.True(candles.Code == 0, candles.Error);
        var closes = JsonDocument.Parse(candles.Output).RootElement.GetProperty("candles").EnumerateArray().Select(c => c.GetProperty("close").GetDecimal()).ToList();
        var expected = await dataSource.QueryAsync(
            """
            SELECT (array_agg(close ORDER BY date DESC))[1] FROM asset_prices_historic
            WHERE asset_id = 2 AND date >= $1 AND date < $1 + interval '2 days' GROUP BY date_trunc('day', date, 'UTC') ORDER BY 1
            """, new DateTimeOffset(DateTime.SpecifyKind(day, DateTimeKind.Utc)));
        Assert.Equal(expected.Select(r => (decimal)r[0]!).Order(), closes.Order());
        Assert.Equal(2, closes.Count);
    }

    [Fact]
    public async Task Every_step_is_reversible_until_finalize_and_a_naive_time_column_converts_under_the_stated_zone()
    {
        var (connectionString, plain) = await fixture.CreateDatabaseAsync("django_naive", migrate: false);
        await plain.DisposeAsync();
        // The application's sessions run in New York, as the old Django app with USE_TZ = False did.
        await using var dataSource = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(connectionString) { Timezone = "America/New_York" }.ConnectionString).Build();
        await OldApplication.CreateAsync(dataSource, prices: 150_000, naiveTime: true);
        // Two wall times whose instants are known without PostgreSQL: New York is UTC-5 in January, UTC-4 in July.
        var winter = await dataSource.ScalarAsync<long>("INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume) VALUES (1, '2026-01-15 09:30', 1, 1, 1, 1, 1) RETURNING id");
        var summer = await dataSource.ScalarAsync<long>("INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume) VALUES (1, '2026-07-15 09:31:07', 1, 1, 1, 1, 1) RETURNING id");
        var converter = new HypertableConverter(dataSource, NullLogger<HypertableConverter>.Instance);
        var schemaBefore = await SchemaAsync(dataSource);

        // Without the zone: a blocker before anything starts, naming the option.
        var blocked = await converter.PlanAsync(Prices, cancellationToken: Ct);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => converter.ConvertAsync(Prices, cancellationToken: Ct));
        Assert.True(blocked.Blocked);
        Assert.Contains(blocked.Checks, c => !c.Ok && c.Detail.Contains("--time-zone", StringComparison.Ordinal));
        Assert.Contains("Nothing was changed", refused.Message, StringComparison.Ordinal);
        Assert.Equal(schemaBefore, await SchemaAsync(dataSource));
        var unknownZone = await converter.PlanAsync(Prices, new ConversionOptions { TimeZone = "Mars/Olympus_Mons" }, Ct);
        Assert.Contains(unknownZone.Checks, c => !c.Ok && c.Detail.Contains("not a time zone the server knows", StringComparison.Ordinal));

        var options = new ConversionOptions { TimeZone = "America/New_York", BatchSize = BatchSize.OfRows(20_000) };
        await using var writer = await OldApplication.Writer.StartAsync(dataSource);
        // Every step takes the conversion's lock: a swap, rollback or finalize while a copy runs is refused. The copy is held
        // after its first batch (its progress callback waits) so the three attempts certainly meet it running.
        var firstBatch = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new ManualResetEventSlim();
        var held = converter.ConvertAsync(Prices, options with
        {
            Progress = new SyncProgress<ConversionProgress>(_ =>
            {
                firstBatch.TrySetResult();
                release.Wait(TimeSpan.FromMinutes(2));
            }),
        }, Ct);
        if (await Task.WhenAny(firstBatch.Task, held).WaitAsync(TimeSpan.FromMinutes(1), Ct) == held)
        {
            await held; // its exception, if it failed
            Assert.Fail("the conversion ended before its first batch reported");
        }

        await Assert.ThrowsAsync<ConversionInProgressException>(() => converter.SwapAsync(Prices, Ct));
        await Assert.ThrowsAsync<ConversionInProgressException>(() => converter.RollbackAsync(Prices, Ct));
        await Assert.ThrowsAsync<ConversionInProgressException>(() => converter.FinalizeAsync(Prices, Ct));
        release.Set();
        Assert.Equal(ConversionPhase.Copied, (await held).Phase);
        Assert.All(await converter.ValidateAsync(Prices, Ct), v => Assert.True(v.Matches, $"{v.Start:O}: {v.OldRows} vs {v.NewRows}"));
        await converter.SwapAsync(Prices, Ct);
        await Task.Delay(300, Ct); // the application writes into the hypertable, mirrored into the old table
        var swappedType = await dataSource.ScalarAsync<string>("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'asset_prices_historic'::regclass AND attname = 'date'");
        await converter.RollbackAsync(Prices, Ct);
        await Task.Delay(200, Ct);

        // Back where it started, with every write, and without anything the conversion made.
        Assert.Equal("timestamp with time zone", swappedType);
        Assert.Equal(schemaBefore, await SchemaAsync(dataSource));
        AssertSameContent(await OldApplication.PricesMd5Async(dataSource));

        // And again, to the end: the instants are the New York wall times the old table held.
        await converter.ConvertAsync(Prices, options, Ct);
        await converter.SwapAsync(Prices, Ct);
        await Task.Delay(200, Ct);
        await converter.FinalizeAsync(Prices, Ct);
        var (operations, maxWait) = await writer.StopAsync();

        Assert.True(operations > 50, $"the writer did only {operations} operations");
        Assert.True(maxWait < TimeSpan.FromSeconds(5), $"a write waited {maxWait.TotalMilliseconds} ms");
        AssertSameContent(await OldApplication.PricesMd5Async(dataSource, "(date AT TIME ZONE 'America/New_York')"));
        Assert.Equal(new DateTime(2026, 1, 15, 14, 30, 0, DateTimeKind.Utc), await dataSource.ScalarAsync<DateTime>("SELECT date FROM asset_prices_historic WHERE id = $1", winter));
        Assert.Equal(new DateTime(2026, 7, 15, 13, 31, 7, DateTimeKind.Utc), await dataSource.ScalarAsync<DateTime>("SELECT date FROM asset_prices_historic WHERE id = $1", summer));
        Assert.Equal(0L, await dataSource.ScalarAsync<long>("SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_pre\\_hypertable%'"));
    }

    [Fact]
    public async Task Time_batches_build_their_index_without_blocking_and_rollback_removes_it()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("django_timebatch", migrate: false);
        await using var _ = dataSource;
        await OldApplication.CreateAsync(dataSource, prices: 5, apiLogs: 110_000);
        var converter = new HypertableConverter(dataSource, NullLogger<HypertableConverter>.Instance);
        var options = new ConversionOptions { BatchSize = BatchSize.OfTime(TimeSpan.FromHours(12)), ColumnMaps = [ColumnMap.Parse(Map)] };
        var before = await dataSource.ScalarAsync<string>(
            "SELECT md5(string_agg(concat_ws('|', id, created_at, endpoint, method, status_code, response_time_ms::double precision, caller_id, client_ip, request_bytes), ',' ORDER BY id)) FROM api_usage_logs");

        var plan = await converter.PlanAsync("api_usage_logs", options, Ct);
        await converter.ConvertAsync("api_usage_logs", options, Ct);
        var indexed = await dataSource.ScalarAsync<bool>("SELECT to_regclass('api_usage_logs_created_at_cnv_idx') IS NOT NULL");
        // A mirror that someone disabled could have let writes bypass the hypertable: the swap refuses.
        await dataSource.ExecuteAsync("ALTER TABLE api_usage_logs DISABLE TRIGGER financehub_mirror_to_hypertable");
        var bypassed = await Assert.ThrowsAsync<InvalidOperationException>(() => converter.SwapAsync("api_usage_logs", Ct));
        await dataSource.ExecuteAsync("ALTER TABLE api_usage_logs ENABLE TRIGGER financehub_mirror_to_hypertable");
        await converter.SwapAsync("api_usage_logs", Ct);
        var converted = await dataSource.ScalarAsync<string>(
            "SELECT md5(string_agg(concat_ws('|', id, created_at, endpoint, method, status_code, duration_ms, caller_id, client_ip, request_bytes), ',' ORDER BY id)) FROM api_usage_logs");
        await converter.RollbackAsync("api_usage_logs", Ct);

        Assert.Contains("dropped or disabled", bypassed.Message, StringComparison.Ordinal);
        Assert.Equal("index", plan.Steps[0].Name);
        Assert.Contains("CREATE INDEX CONCURRENTLY", plan.Steps[0].Sql[0], StringComparison.Ordinal);
        Assert.True(indexed);
        Assert.Equal(before, converted);
        Assert.False(await dataSource.ScalarAsync<bool>("SELECT to_regclass('api_usage_logs_created_at_cnv_idx') IS NOT NULL"));
        Assert.Equal("integer", await dataSource.ScalarAsync<string>(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'api_usage_logs'::regclass AND attname = 'response_time_ms'"));
    }

    [Fact]
    public async Task What_cannot_be_decided_blocks_with_the_exact_fix_and_changes_nothing()
    {
        var (_, dataSource) = await fixture.CreateDatabaseAsync("django_blockers", migrate: false);
        await using var _ = dataSource;
        await OldApplication.CreateAsync(dataSource, prices: 200);
        await dataSource.ExecuteAsync(
            """
            CREATE TABLE trades (id bigserial PRIMARY KEY, price_id bigint REFERENCES asset_prices_historic (id));
            INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume) SELECT asset_id, date, open, high, low, close, volume FROM asset_prices_historic WHERE id = 1;
            """);
        var converter = new HypertableConverter(dataSource, NullLogger<HypertableConverter>.Instance);
        var schemaBefore = await SchemaAsync(dataSource);

        var plan = await converter.PlanAsync(Prices, cancellationToken: Ct);
        var badMap = await converter.PlanAsync("api_usage_logs", new ConversionOptions { ColumnMaps = [ColumnMap.Parse("api_usage_logs.duration_ms=elapsed")] }, Ct);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => converter.ConvertAsync(Prices, cancellationToken: Ct));
        var schemaAfter = await SchemaAsync(dataSource);
        await dataSource.ExecuteAsync("ALTER TABLE trades DROP CONSTRAINT trades_price_id_fkey");
        var extended = await converter.PlanAsync(Prices, new ConversionOptions { Key = ConversionKey.ExtendedOld }, Ct);

        Assert.True(plan.Blocked);
        Assert.Empty(plan.Steps);
        Assert.Contains(plan.Checks, c => !c.Ok && c.Detail.Contains("ALTER TABLE trades DROP CONSTRAINT \"trades_price_id_fkey\"", StringComparison.Ordinal));
        Assert.Contains(plan.Checks, c => !c.Ok && c.Detail.Contains("occur more than once", StringComparison.Ordinal) && c.Detail.Contains("--key extended", StringComparison.Ordinal));
        Assert.Contains(badMap.Checks, c => !c.Ok && c.Detail.Contains("has no column elapsed", StringComparison.Ordinal));
        Assert.Throws<FormatException>(() => ColumnMap.Parse("duration_ms=response_time_ms"));
        Assert.False(extended.Blocked, string.Join("; ", extended.Checks.Where(c => !c.Ok).Select(c => c.Detail)));
        Assert.Contains("PRIMARY KEY (\"id\", \"date\")", string.Join("\n", extended.Steps[0].Sql), StringComparison.Ordinal);
        Assert.Contains("cannot be converted", refused.Message, StringComparison.Ordinal);
        Assert.Equal(schemaBefore, schemaAfter);
    }

    /// <summary>Tables, columns with types and defaults, constraints and indexes of schema public, as text: "nothing changed" is "equal".</summary>
    private static Task<string> SchemaAsync(NpgsqlDataSource dataSource) => dataSource.ScalarAsync<string>(
        """
        SELECT string_agg(line, E'\n' ORDER BY line) FROM (
          SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS line
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
          WHERE c.relkind = 'r'
          UNION ALL SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
          UNION ALL SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid AND c.relnamespace = 'public'::regnamespace
          UNION ALL SELECT tgrelid::regclass || ' ' || tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid AND c.relnamespace = 'public'::regnamespace WHERE NOT tgisinternal
        ) s
        """);

    private static void AssertSameContent((string Table, string Oracle) md5) => Assert.Equal(md5.Oracle, md5.Table);
}
