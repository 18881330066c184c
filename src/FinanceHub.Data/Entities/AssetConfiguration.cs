using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FinanceHub.Data.Entities;

internal sealed class AssetConfiguration : IEntityTypeConfiguration<Asset>
{
    public void Configure(EntityTypeBuilder<Asset> builder)
    {
        builder.ToTable("assets");
        builder.HasKey(a => a.Id);
        builder.Property(a => a.Id).UseIdentityAlwaysColumn();
        builder.Property(a => a.Symbol).HasMaxLength(32);
        builder.HasIndex(a => a.Symbol).IsUnique();
        builder.Property(a => a.Name).HasMaxLength(200);
        builder.Property(a => a.AssetType).HasConversion<string>().HasMaxLength(16);
        builder.Property(a => a.Exchange).HasMaxLength(64);
        // Defaults let a baseline add these columns to the old application's assets table, and plain SQL inserts omit them.
        builder.Property(a => a.QuoteCurrency).HasMaxLength(3).IsFixedLength().HasDefaultValue("USD");
        // The sentinel is the default itself: an entity with IsActive = false is saved as false, not replaced by the default.
        builder.Property(a => a.IsActive).HasDefaultValue(true).HasSentinel(true);
        builder.Property(a => a.CreatedAt).HasDefaultValueSql("now()");
        builder.ToTable(t => t.HasCheckConstraint("ck_assets_symbol_upper", "symbol = upper(symbol) AND symbol <> ''"));
    }
}
