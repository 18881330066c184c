using FinanceHub.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace FinanceHub.Data;

/// <summary>
/// The FinanceHub time-series model: assets, <c>asset_prices_historic</c>, <c>performance_metrics</c>,
/// <c>api_usage_logs</c> (hypertables), the <c>asset_prices_hourly</c>/<c>asset_prices_daily</c> aggregates, and the
/// project's own bookkeeping in schema <c>financehub</c>. Configure it with
/// <see cref="FinanceHubDbContextOptionsExtensions.UseFinanceHubNpgsql(DbContextOptionsBuilder, Npgsql.NpgsqlDataSource)"/>
/// (done for you by <c>services.AddFinanceHubData(configuration)</c>).
/// </summary>
public class FinanceHubDbContext(DbContextOptions<FinanceHubDbContext> options) : DbContext(options)
{
    /// <summary>Schema of the project's own tables and SQL helper functions.</summary>
    public const string ProjectSchema = "financehub";

    /// <summary>Assets.</summary>
    public DbSet<Asset> Assets => Set<Asset>();

    /// <summary>Price bars (<c>asset_prices_historic</c>).</summary>
    public DbSet<AssetPrice> AssetPrices => Set<AssetPrice>();

    /// <summary>Application metrics (<c>performance_metrics</c>).</summary>
    public DbSet<PerformanceMetric> PerformanceMetrics => Set<PerformanceMetric>();

    /// <summary>API request log (<c>api_usage_logs</c>).</summary>
    public DbSet<ApiUsageLog> ApiUsageLogs => Set<ApiUsageLog>();

    /// <summary>Hourly candles (<c>asset_prices_hourly</c>), read-only.</summary>
    public DbSet<HourlyPriceCandle> HourlyCandles => Set<HourlyPriceCandle>();

    /// <summary>Daily candles (<c>asset_prices_daily</c>), read-only.</summary>
    public DbSet<DailyPriceCandle> DailyCandles => Set<DailyPriceCandle>();

    /// <summary>4-hour candles (<c>asset_prices_4hour</c>, rolled up from the hourly ones), read-only.</summary>
    public DbSet<FourHourPriceCandle> FourHourCandles => Set<FourHourPriceCandle>();

    /// <summary>Weekly candles (<c>asset_prices_weekly</c>, ISO weeks in UTC, rolled up from the daily ones), read-only.</summary>
    public DbSet<WeeklyPriceCandle> WeeklyCandles => Set<WeeklyPriceCandle>();

    /// <summary>Monthly candles (<c>asset_prices_monthly</c>, calendar months in UTC, rolled up from the daily ones), read-only.</summary>
    public DbSet<MonthlyPriceCandle> MonthlyCandles => Set<MonthlyPriceCandle>();

    /// <summary>The archive catalog (<c>financehub.archives</c>).</summary>
    public DbSet<ArchiveRecord> Archives => Set<ArchiveRecord>();

    /// <summary>Splits and cash dividends (<c>corporate_actions</c>), applied by adjusted candles.</summary>
    public DbSet<CorporateAction> CorporateActions => Set<CorporateAction>();

    /// <summary>Project-run maintenance policies (<c>financehub.maintenance_policies</c>).</summary>
    public DbSet<MaintenancePolicy> MaintenancePolicies => Set<MaintenancePolicy>();

    /// <summary>
    /// The latest price at or before <paramref name="at"/> of each of <paramref name="symbols"/> (as-of prices), one index
    /// probe per asset; composable (<c>Where</c>, <c>Join</c>, <c>Select</c>). A price older than <paramref name="maxAge"/>
    /// counts as missing: its price columns are null and <see cref="PriceAsOf.LatestDate"/> says when it was. So does one
    /// that rows archived and dropped after it could supersede (<see cref="PriceAsOf.ArchivedFrom"/> names them).
    /// </summary>
    public IQueryable<PriceAsOf> PricesAsOf(string[] symbols, DateTimeOffset at, TimeSpan? maxAge = null)
        => FromExpression(() => PricesAsOf(symbols, at, maxAge));

    /// <summary>
    /// As-of join: the latest price of <c>symbols[i]</c> at or before <c>instants[i]</c>, for every i (the arrays are
    /// zipped; <see cref="PriceAsOf.Ordinal"/> is i + 1).
    /// </summary>
    public IQueryable<PriceAsOf> PricesAsOfJoin(string[] symbols, DateTimeOffset[] instants, TimeSpan? maxAge = null)
        => FromExpression(() => PricesAsOfJoin(symbols, instants, maxAge));

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(FinanceHubDbContext).Assembly);
        modelBuilder.HasDbFunction(typeof(FinanceHubDbContext).GetMethod(nameof(PricesAsOf))!).HasName("prices_as_of").HasSchema("financehub");
        modelBuilder.HasDbFunction(typeof(FinanceHubDbContext).GetMethod(nameof(PricesAsOfJoin))!).HasName("prices_as_of_join").HasSchema("financehub");
    }
}
