using System.Net;
using System.Text.Json;
using FinanceHub.Data.Configuration;
using FinanceHub.Data.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FinanceHub.Data.Tests.Samples;

/// <summary>The sample ASP.NET Core API (samples/FinanceHub.Data.SampleApi), end to end against the real server.</summary>
[Collection(DatabaseCollectionDefinition.Name)]
public sealed class SampleApiTests(DatabaseFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_sample_api_answers_health_and_candles_equal_to_sql_over_the_rows()
    {
        var (connectionString, dataSource) = await fixture.CreateDatabaseAsync("sample_api", migrate: true);
        await using var _ = dataSource;
        var asset = await dataSource.InsertAssetAsync("API");
        var start = new DateTimeOffset(2026, 4, 6, 0, 0, 0, TimeSpan.Zero);
        // Prices that go up and down, so that first and last differ from min and max.
        await dataSource.ExecuteAsync(
            """
            INSERT INTO asset_prices_historic (asset_id, date, open, high, low, close, volume)
            SELECT $1, $2::timestamptz + make_interval(mins => 10 * n), 100 + (n * 37 % 11), 112 + (n * 13 % 5), 90 - (n * 7 % 3), 100 + (n * 53 % 13), n % 7
            FROM generate_series(0, 3 * 144 - 1) n
            """, asset, start);
        await using var factory = new WebApplicationFactory<FinanceHub.Data.SampleApi.SampleApi>().WithWebHostBuilder(web =>
            web.ConfigureServices(services => services.PostConfigure<DatabaseOptions>(o => o.ConnectionString = connectionString)));
        using var client = factory.CreateClient();

        using var health = await client.GetAsync(new Uri("/health", UriKind.Relative), Ct);
        var healthJson = JsonDocument.Parse(await health.Content.ReadAsStringAsync(Ct)).RootElement;
        using var candles = await client.GetAsync(new Uri($"/candles/API?from=2026-04-06T00:00:00Z&to=2026-04-09T00:00:00Z&interval=1day", UriKind.Relative), Ct);
        var candleJson = JsonDocument.Parse(await candles.Content.ReadAsStringAsync(Ct)).RootElement;
        using var unknown = await client.GetAsync(new Uri("/candles/NOPE?from=2026-04-06T00:00:00Z&to=2026-04-09T00:00:00Z", UriKind.Relative), Ct);
        var expected = await dataSource.QueryAsync(
            """
            SELECT (array_agg(open ORDER BY date))[1], max(high), min(low), (array_agg(close ORDER BY date DESC))[1], sum(volume)
            FROM asset_prices_historic WHERE asset_id = $1 GROUP BY date_trunc('day', date, 'UTC') ORDER BY min(date)
            """, asset);

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.NotEqual("Unhealthy", healthJson.GetProperty("status").GetString());
        Assert.Equal(fixture.Edition.ToString(), healthJson.GetProperty("checks").GetProperty("financehub-database").GetProperty("data").GetProperty("edition").GetString());
        Assert.Equal(HttpStatusCode.OK, candles.StatusCode);
        var actual = candleJson.GetProperty("candles").EnumerateArray()
            .Select(c => (c.GetProperty("open").GetDecimal(), c.GetProperty("high").GetDecimal(), c.GetProperty("low").GetDecimal(), c.GetProperty("close").GetDecimal(),
                c.GetProperty("volume").GetDecimal()))
            .ToList();
        Assert.Equal(3, actual.Count);
        Assert.Equal(expected.Select(r => ((decimal)r[0]!, (decimal)r[1]!, (decimal)r[2]!, (decimal)r[3]!, (decimal)r[4]!)), actual);
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
    }
}
