using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace FinanceHub.Data.Tests.Infrastructure;

/// <summary>
/// A database as the old Django application made it: a surrogate <c>id bigserial PRIMARY KEY</c> on every table with
/// its sequence owned by the table, a foreign key from prices to assets, Django's indexes, columns that differ a little
/// from the model (no <c>quote_currency</c>/<c>is_active</c>/<c>created_at</c> on assets, <c>response_time_ms</c> for
/// <c>duration_ms</c>, an extra <c>tags</c> column), and Django's own bookkeeping table.
/// </summary>
public static class OldApplication
{
    /// <summary>Creates the schema and loads <paramref name="prices"/> price rows (5 assets), metrics and API log rows.</summary>
    /// <param name="dataSource">An empty database.</param>
    /// <param name="prices">Price rows, one per asset per 5 minutes, ending yesterday.</param>
    /// <param name="metrics">performance_metrics rows.</param>
    /// <param name="apiLogs">api_usage_logs rows.</param>
    /// <param name="naiveTime">Whether the old application stored prices' <c>date</c> as <c>timestamp without time zone</c>
    /// (Django with USE_TZ = False), in America/New_York; the rows then end on 2026-10-20, between the clock changes.</param>
    public static async Task CreateAsync(NpgsqlDataSource dataSource, int prices, int metrics = 2_000, int apiLogs = 2_000, bool naiveTime = false)
    {
        var dateType = naiveTime ? "timestamp without time zone" : "timestamp with time zone";
        await dataSource.ExecuteAsync(
            $"""
            CREATE TABLE django_migrations (id bigserial PRIMARY KEY, app varchar(255) NOT NULL, name varchar(255) NOT NULL, applied timestamptz NOT NULL);
            INSERT INTO django_migrations (app, name, applied) VALUES ('prices', '0001_initial', now()), ('prices', '0002_usage', now());
            CREATE TABLE assets (
              id bigserial PRIMARY KEY, symbol varchar(32) NOT NULL UNIQUE, name varchar(200), asset_type varchar(16) NOT NULL, exchange varchar(64));
            CREATE TABLE asset_prices_historic (
              id bigserial PRIMARY KEY,
              asset_id bigint NOT NULL REFERENCES assets (id) DEFERRABLE INITIALLY DEFERRED,
              date {dateType} NOT NULL,
              open numeric(20,8) NOT NULL, high numeric(20,8) NOT NULL, low numeric(20,8) NOT NULL, close numeric(20,8) NOT NULL,
              volume numeric(28,8) NOT NULL);
            CREATE INDEX asset_prices_historic_asset_id_4b6a3c2e ON asset_prices_historic (asset_id);
            CREATE INDEX asset_prices_historic_asset_id_date_idx ON asset_prices_historic (asset_id, date);
            -- A name at PostgreSQL's 63-byte limit, as generated names often are: renames must bring it back exactly.
            CREATE INDEX asset_prices_historic_close_for_the_reports_page_of_the_old_app ON asset_prices_historic (close);
            CREATE TABLE performance_metrics (
              id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, metric_name varchar(128) NOT NULL, value double precision NOT NULL,
              unit varchar(16), service varchar(64), host varchar(128), asset_id integer, tags jsonb);
            CREATE TABLE api_usage_logs (
              id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, endpoint varchar(256) NOT NULL, method varchar(10) NOT NULL,
              status_code smallint NOT NULL, response_time_ms integer NOT NULL, caller_id varchar(128), client_ip inet, user_agent varchar(512),
              request_bytes bigint, response_bytes bigint);
            INSERT INTO assets (symbol, name, asset_type, exchange) SELECT 'DJ' || i, 'Django asset ' || i, 'Stock', 'NYSE' FROM generate_series(1, 5) i;
            """);
        // Rows in time order, assets interleaved, as an application that writes each minute's prices makes them.
        await dataSource.ExecuteAsync(
            $"""
            INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume)
            SELECT a.id, {(naiveTime ? "timestamp '2026-10-20 00:00'" : "date_trunc('day', now()) - interval '1 day'")} - make_interval(mins => 5 * ($1 / 5 - n)),
                   100 + (n % 97) + a.id, 101 + (n % 97) + a.id, 99 + (n % 97) + a.id, 100.5 + (n % 89) + a.id, (n * 7 % 1000) + 0.12345678
            FROM generate_series(1, $1 / 5) n CROSS JOIN assets a ORDER BY n, a.id
            """, prices);
        await dataSource.ExecuteAsync(
            """
            INSERT INTO performance_metrics (created_at, metric_name, value, unit, service, tags)
            SELECT now() - make_interval(secs => 30 * n), 'latency_' || (n % 3), n % 500 / 7.0, 'ms', 'api', jsonb_build_object('n', n)
            FROM generate_series(1, $1) n ORDER BY n DESC
            """, metrics);
        // Every 4 seconds: 150,000 rows stay inside the 7-day retention of api_usage_logs, which the community edition's
        // policy applies as soon as `migrate` creates it (what adoption should do with older history is not this fixture's
        // question; these tests compare content).
        await dataSource.ExecuteAsync(
            """
            INSERT INTO api_usage_logs (created_at, endpoint, method, status_code, response_time_ms, caller_id, client_ip, request_bytes)
            SELECT now() - make_interval(secs => 4 * n), '/api/prices/' || (n % 5), 'GET', 200 + (n % 3), n % 900, 'caller' || (n % 11), '10.0.0.1', n
            FROM generate_series(1, $1) n ORDER BY n DESC
            """, apiLogs);
        await dataSource.ExecuteAsync("ANALYZE");
    }

    /// <summary>
    /// md5 over the ordered rows of the price table and of the writer's oracle, by plain SQL in one statement (one
    /// snapshot, so a writer that is still running cannot make them differ): the oracle for "the content is unchanged".
    /// <paramref name="oracleDate"/> turns the oracle's stored time into what the table holds.
    /// </summary>
    public static async Task<(string Table, string Oracle)> PricesMd5Async(NpgsqlDataSource dataSource, string oracleDate = "date")
    {
        static string Md5(string table, string date)
            => $"(SELECT coalesce(md5(string_agg(concat_ws('|', id, asset_id, {date}, open, high, low, close, volume), ',' ORDER BY id)), 'empty') FROM {table})";
        var row = (await dataSource.QueryAsync($"SELECT {Md5("asset_prices_historic", "date")}, {Md5("oracle.prices", oracleDate)}"))[0];
        return ((string)row[0]!, (string)row[1]!);
    }

    /// <summary>
    /// The old application writing while the conversion runs: inserts without an id (the sequence gives it), updates and
    /// deletes of random rows of prices, each mirrored in the same transaction into a plain table <c>oracle.prices</c>
    /// that no conversion touches. At the end, the table must hold exactly what the oracle holds.
    /// </summary>
    public sealed class Writer : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<(long Operations, TimeSpan MaxWait)> _loop;

        private Writer(NpgsqlDataSource dataSource, long maxId)
            => _loop = Task.Run(() => LoopAsync(dataSource, maxId, _stop.Token));

        /// <summary>Creates the oracle from the table's current rows and starts writing.</summary>
        public static async Task<Writer> StartAsync(NpgsqlDataSource dataSource)
        {
            await dataSource.ExecuteAsync(
                """
                CREATE SCHEMA oracle;
                CREATE TABLE oracle.prices AS SELECT id, asset_id, date, open, high, low, close, volume FROM asset_prices_historic;
                ALTER TABLE oracle.prices ADD PRIMARY KEY (id);
                """);
            return new Writer(dataSource, await dataSource.ScalarAsync<long>("SELECT max(id) FROM asset_prices_historic"));
        }

        /// <summary>Stops writing; returns the operations done and the longest one took.</summary>
        public async Task<(long Operations, TimeSpan MaxWait)> StopAsync()
        {
            await _stop.CancelAsync();
            return await _loop;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_loop.IsCompleted)
            {
                await StopAsync();
            }

            _stop.Dispose();
        }

        private static async Task<(long, TimeSpan)> LoopAsync(NpgsqlDataSource dataSource, long maxId, CancellationToken stop)
        {
            var random = new Random(7);
            var operations = 0L;
            var maxWait = TimeSpan.Zero;
            var now = DateTime.UtcNow;
            while (!stop.IsCancellationRequested)
            {
                var stopwatch = Stopwatch.StartNew();
                await using (var connection = await dataSource.OpenConnectionAsync(CancellationToken.None))
                await using (var transaction = await connection.BeginTransactionAsync(CancellationToken.None))
                {
                    var roll = random.Next(100);
                    if (roll < 60)
                    {
                        // The old application's insert: no id, the column default takes the next value of the sequence.
                        await using var insert = new NpgsqlCommand(
                            "INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume) VALUES ($1, $2, 10, 12, 9, 11, 5) RETURNING id",
                            connection, transaction);
                        var asset = (long)random.Next(1, 6);
                        now = now.AddMilliseconds(random.Next(1, 500));
                        insert.Parameters.Add(new() { Value = asset });
                        insert.Parameters.Add(new() { Value = now, NpgsqlDbType = NpgsqlDbType.TimestampTz });
                        var id = (long)(await insert.ExecuteScalarAsync(CancellationToken.None))!;
                        // The oracle from the writer's own values, not read back from the table under test.
                        await using var oracle = new NpgsqlCommand(
                            "INSERT INTO oracle.prices (id, asset_id, date, open, high, low, close, volume) VALUES ($1, $2, $3, 10, 12, 9, 11, 5)", connection, transaction);
                        oracle.Parameters.Add(new() { Value = id });
                        oracle.Parameters.Add(new() { Value = asset });
                        oracle.Parameters.Add(new() { Value = now, NpgsqlDbType = NpgsqlDbType.TimestampTz });
                        await oracle.ExecuteNonQueryAsync(CancellationToken.None);
                        maxId = Math.Max(maxId, id);
                    }
                    else
                    {
                        var id = random.NextInt64(1, maxId + 1);
                        var sql = roll < 85
                            ? "UPDATE {0} SET close = close + 1, high = high + 1, volume = volume + 0.5 WHERE id = $1"
                            : "DELETE FROM {0} WHERE id = $1";
                        foreach (var table in new[] { "asset_prices_historic", "oracle.prices" })
                        {
                            await using var command = new NpgsqlCommand(string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, table), connection, transaction);
                            command.Parameters.Add(new() { Value = id });
                            await command.ExecuteNonQueryAsync(CancellationToken.None);
                        }
                    }

                    await transaction.CommitAsync(CancellationToken.None);
                }

                operations++;
                maxWait = stopwatch.Elapsed > maxWait ? stopwatch.Elapsed : maxWait;
                await Task.Delay(3, CancellationToken.None);
            }

            return (operations, maxWait);
        }
    }
}
