using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FinanceHub.Data.Entities;

internal sealed class PriceCandleConfiguration :
    IEntityTypeConfiguration<HourlyPriceCandle>, IEntityTypeConfiguration<DailyPriceCandle>,
    IEntityTypeConfiguration<FourHourPriceCandle>, IEntityTypeConfiguration<WeeklyPriceCandle>, IEntityTypeConfiguration<MonthlyPriceCandle>
{
    public void Configure(EntityTypeBuilder<HourlyPriceCandle> builder) => Configure(builder, Aggregates.Hourly);

    public void Configure(EntityTypeBuilder<DailyPriceCandle> builder) => Configure(builder, Aggregates.Daily);

    public void Configure(EntityTypeBuilder<FourHourPriceCandle> builder) => Configure(builder, Aggregates.FourHour);

    public void Configure(EntityTypeBuilder<WeeklyPriceCandle> builder) => Configure(builder, Aggregates.Weekly);

    public void Configure(EntityTypeBuilder<MonthlyPriceCandle> builder) => Configure(builder, Aggregates.Monthly);

    // Views are created by the migrations' SQL (continuous aggregate or materialized view, by edition), not by EF.
    private static void Configure<T>(EntityTypeBuilder<T> builder, string view) where T : PriceCandle
    {
        builder.HasNoKey();
        builder.ToView(view);
        builder.Property(c => c.Open).HasColumnType(AssetPriceConfiguration.PriceType);
        builder.Property(c => c.High).HasColumnType(AssetPriceConfiguration.PriceType);
        builder.Property(c => c.Low).HasColumnType(AssetPriceConfiguration.PriceType);
        builder.Property(c => c.Close).HasColumnType(AssetPriceConfiguration.PriceType);
        builder.Property(c => c.Volume).HasColumnType("numeric");
    }
}
