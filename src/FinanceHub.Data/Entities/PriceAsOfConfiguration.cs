using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FinanceHub.Data.Entities;

/// <summary>The result of <c>financehub.prices_as_of</c>: keyless, mapped to no table (migration 0800 creates the function, 1100 adds the cold-tier columns).</summary>
internal sealed class PriceAsOfConfiguration : IEntityTypeConfiguration<PriceAsOf>
{
    public void Configure(EntityTypeBuilder<PriceAsOf> builder)
    {
        // A view mapping gives EF the column names; the function is what queries read (migrations never create views).
        builder.HasNoKey().ToView("prices_as_of", "financehub");
        builder.Property(p => p.Ordinal).HasColumnName("ordinal");
        builder.Property(p => p.Symbol).HasColumnName("symbol");
        builder.Property(p => p.RequestedAt).HasColumnName("requested_at");
        builder.Property(p => p.AssetId).HasColumnName("asset_id");
        builder.Property(p => p.LatestDate).HasColumnName("latest_date");
        builder.Property(p => p.Date).HasColumnName("date");
        builder.Property(p => p.Open).HasColumnName("open");
        builder.Property(p => p.High).HasColumnName("high");
        builder.Property(p => p.Low).HasColumnName("low");
        builder.Property(p => p.Close).HasColumnName("close");
        builder.Property(p => p.AdjustedClose).HasColumnName("adjusted_close");
        builder.Property(p => p.Volume).HasColumnName("volume");
        builder.Property(p => p.TradeCount).HasColumnName("trade_count");
        builder.Property(p => p.ArchivedFrom).HasColumnName("archived_from");
        builder.Property(p => p.ArchivedTo).HasColumnName("archived_to");
        builder.Property(p => p.ArchiveIds).HasColumnName("archive_ids");
    }
}
