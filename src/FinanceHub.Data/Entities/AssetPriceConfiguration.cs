using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FinanceHub.Data.Entities;

internal sealed class AssetPriceConfiguration : IEntityTypeConfiguration<AssetPrice>
{
    public const string PriceType = "numeric(20,8)";
    public const string VolumeType = "numeric(28,8)";

    public void Configure(EntityTypeBuilder<AssetPrice> builder)
    {
        builder.ToTable(Hypertables.AssetPrices.Table, t =>
        {
            t.HasCheckConstraint("ck_asset_prices_historic_high_low", "high >= low");
            t.HasCheckConstraint("ck_asset_prices_historic_volume", "volume >= 0");
        });
        builder.HasKey(p => new { p.AssetId, p.Date });
        builder.Property(p => p.Date).HasColumnName("date");
        builder.Property(p => p.Open).HasColumnType(PriceType);
        builder.Property(p => p.High).HasColumnType(PriceType);
        builder.Property(p => p.Low).HasColumnType(PriceType);
        builder.Property(p => p.Close).HasColumnType(PriceType);
        builder.Property(p => p.AdjustedClose).HasColumnType(PriceType);
        builder.Property(p => p.Volume).HasColumnType(VolumeType);
        builder.Property(p => p.Source).HasMaxLength(64);
        builder.HasOne(p => p.Asset).WithMany(a => a.Prices).HasForeignKey(p => p.AssetId).OnDelete(DeleteBehavior.Restrict);
        // Time-range scans across all assets (retention checks, archiving, bucketed queries without an asset filter).
        builder.HasIndex(p => p.Date).IsDescending();
    }
}
