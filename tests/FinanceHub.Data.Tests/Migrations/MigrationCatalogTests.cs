using FinanceHub.Data.Entities;
using FinanceHub.Data.Tests.Infrastructure;
using Npgsql;

namespace FinanceHub.Data.Tests.Migrations;

/// <summary>What the migrations created, read from the database's own catalog.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class MigrationCatalogTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("asset_prices_historic", "date", "7 days")]
    [InlineData("performance_metrics", "created_at", "1 day")]
    [InlineData("api_usage_logs", "created_at", "01:00:00")]
    public async Task Hypertable_is_partitioned_on_its_time_column_with_the_chunk_interval(string table, string column, string interval)
    {
        var rows = await QueryAsync(
            "SELECT column_name, time_interval::text FROM timescaledb_information.dimensions WHERE hypertable_name = $1", table);

        var row = Assert.Single(rows);
        Assert.Equal(column, row[0]);
        Assert.Equal(interval, row[1]);
    }

    [Fact]
    public async Task Every_primary_key_and_unique_index_of_a_hypertable_includes_its_time_column()
    {
        var rows = await QueryAsync(
            """
            SELECT h.hypertable_name, i.indexrelid::regclass::text, d.column_name,
                   (SELECT array_agg(a.attname::text) FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey))
            FROM timescaledb_information.hypertables h
            JOIN timescaledb_information.dimensions d ON d.hypertable_name = h.hypertable_name AND d.dimension_number = 1
            JOIN pg_index i ON i.indrelid = format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass
            WHERE i.indisunique AND h.hypertable_name = ANY ($1)
            """, new object[] { Hypertables.All.Select(h => h.Table).ToArray() });

        Assert.Equal(3, rows.Count); // one primary key each, no other unique index
        Assert.All(rows, r => Assert.Contains((string)r[2]!, (string[])r[3]!));
        Assert.Contains(rows, r => (string)r[1]! == "pk_asset_prices_historic" && ((string[])r[3]!).Order().SequenceEqual(["asset_id", "date"]));
    }

    [Theory]
    [InlineData("asset_prices_hourly")]
    [InlineData("asset_prices_daily")]
    public async Task Price_aggregate_has_the_ohlcv_columns(string view)
    {
        var rows = await QueryAsync(
            """
            SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, view);

        Assert.Equal(
            ["asset_id:integer", "bucket:timestamp with time zone", "open:numeric", "high:numeric", "low:numeric", "close:numeric",
             "volume:numeric", "trade_count:bigint"],
            rows.Select(r => $"{r[0]}:{r[1]}"));
    }

    [Fact]
    public async Task Price_aggregates_are_continuous_aggregates_on_community_edition()
    {
        fixture.RequireCommunity();

        var rows = await QueryAsync(
            "SELECT view_name::text, materialized_only FROM timescaledb_information.continuous_aggregates WHERE hypertable_name = $1 ORDER BY 1",
            "asset_prices_historic");

        Assert.Equal(["asset_prices_daily:False", "asset_prices_hourly:False"], rows.Select(r => $"{r[0]}:{r[1]}"));
    }

    [Fact]
    public async Task Candles_are_served_by_covering_indexes_on_both_editions()
    {
        // On the community edition an index on a continuous aggregate lives on its materialization hypertable.
        var rows = await QueryAsync(
            """
            SELECT c.relname::text, i.indnkeyatts::int, i.indnatts::int,
                   (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relname IN ('ix_asset_prices_hourly_candles', 'ix_asset_prices_daily_candles') ORDER BY 1
            """);

        Assert.Equal(["ix_asset_prices_daily_candles", "ix_asset_prices_hourly_candles"], rows.Select(r => (string)r[0]!));
        Assert.All(rows, r =>
        {
            Assert.Equal((2, 8), ((int)r[1]!, (int)r[2]!));
            Assert.Equal(["asset_id", "bucket", "open", "high", "low", "close", "volume", "trade_count"], (string[])r[3]!);
        });
    }

    [Fact]
    public async Task Price_aggregates_are_materialized_views_with_a_unique_index_on_apache_edition()
    {
        fixture.RequireApache();

        var rows = await QueryAsync(
            """
            SELECT c.relname::text, c.relkind::text, i.indisunique,
                   (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey))
            FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid
            WHERE c.relname IN ('asset_prices_hourly', 'asset_prices_daily') AND i.indisunique ORDER BY 1
            """);

        Assert.Equal(2, rows.Count);
        Assert.All(rows, r =>
        {
            Assert.Equal("m", r[1]);
            Assert.True((bool)r[2]!);
            Assert.Equal(["asset_id", "bucket"], (string[])r[3]!);
        });
    }

    [Theory]
    [InlineData("asset_prices_historic", "730 days")]
    [InlineData("performance_metrics", "30 days")]
    [InlineData("api_usage_logs", "7 days")]
    public async Task Retention_is_configured_as_a_job_or_a_maintenance_policy(string table, string dropAfter)
    {
        var sql = fixture.IsCommunity
            ? "SELECT config->>'drop_after' FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = $1"
            : "SELECT drop_after::text FROM financehub.maintenance_policies WHERE kind = 'Retention' AND target = $1 AND enabled";

        var row = Assert.Single(await QueryAsync(sql, table));

        Assert.Equal(dropAfter, row[0]);
    }

    [Theory]
    [InlineData("asset_prices_hourly")]
    [InlineData("asset_prices_daily")]
    public async Task Aggregate_refresh_is_configured_as_a_job_or_a_maintenance_policy(string view)
    {
        var sql = fixture.IsCommunity
            ? """
              SELECT j.schedule_interval::text FROM _timescaledb_config.bgw_job j
              JOIN _timescaledb_catalog.continuous_agg c ON c.mat_hypertable_id = j.hypertable_id
              WHERE j.proc_name = 'policy_refresh_continuous_aggregate' AND c.user_view_name = $1
              """
            : "SELECT schedule_interval::text FROM financehub.maintenance_policies WHERE kind = 'Refresh' AND target = $1 AND enabled";

        var row = Assert.Single(await QueryAsync(sql, view));

        Assert.NotNull(row[0]);
    }

    [Fact]
    public async Task Aggregate_refresh_windows_stay_inside_the_raw_retention_window()
    {
        // A refresh recomputes every bucket in its window from raw rows; if the window reached past the retention
        // horizon, it would rewrite buckets whose raw rows are gone and silently delete aggregate history. Jobs are joined
        // to aggregates by id in TimescaleDB's own tables: the information view names them differently across releases.
        fixture.RequireCommunity();

        var rows = await QueryAsync(
            """
            SELECT c.user_view_name::text, (j.config->>'start_offset')::interval, (r.config->>'drop_after')::interval
            FROM _timescaledb_catalog.continuous_agg c
            JOIN _timescaledb_config.bgw_job j ON j.hypertable_id = c.mat_hypertable_id AND j.proc_name = 'policy_refresh_continuous_aggregate'
            JOIN _timescaledb_config.bgw_job r ON r.hypertable_id = c.raw_hypertable_id AND r.proc_name = 'policy_retention'
            JOIN _timescaledb_catalog.hypertable h ON h.id = c.raw_hypertable_id
            WHERE h.table_name = 'asset_prices_historic'
            """);

        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.True((TimeSpan)r[1]! < (TimeSpan)r[2]!, $"{r[0]}: refresh start_offset {r[1]} must be shorter than retention {r[2]}"));
    }

    [Theory]
    [InlineData("asset_prices_historic", "asset_id", "date")]
    [InlineData("performance_metrics", "metric_name", "created_at")]
    [InlineData("api_usage_logs", "endpoint", "created_at")]
    public async Task Compression_segments_by_series_and_orders_by_time_descending_on_community_edition(
        string table, string segmentBy, string orderBy)
    {
        fixture.RequireCommunity();

        var rows = await QueryAsync(
            """
            SELECT attname::text, segmentby_column_index, orderby_column_index, orderby_asc
            FROM timescaledb_information.compression_settings WHERE hypertable_name = $1
            """, table);

        Assert.Contains(rows, r => (string)r[0]! == segmentBy && r[1] is short s && s == 1);
        Assert.Contains(rows, r => (string)r[0]! == orderBy && r[2] is short o && o == 1 && r[3] is false);
        var policy = Assert.Single(await QueryAsync(
            "SELECT 1 FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_name = $1", table));
        Assert.NotNull(policy);
    }

    [Fact]
    public async Task Feature_report_says_what_is_native_emulated_or_unavailable()
    {
        var rows = (await QueryAsync("SELECT feature, support FROM financehub.feature_support()"))
            .ToDictionary(r => (string)r[0]!, r => (string)r[1]!);

        Assert.Equal("native", rows["hypertables"]);
        Assert.Equal("native", rows["time_bucket"]);
        if (fixture.IsCommunity)
        {
            Assert.All(rows.Values, v => Assert.Equal("native", v));
        }
        else
        {
            Assert.Equal("unavailable", rows["compression"]);
            Assert.Equal("emulated", rows["retention_policies"]);
            Assert.Equal("emulated", rows["continuous_aggregates"]);
        }
    }

    private async Task<List<object?[]>> QueryAsync(string sql, params object[] parameters)
    {
        await using var command = fixture.DataSource.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<object?[]>();
        while (await reader.ReadAsync(Ct))
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }
}
