using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FinanceHub.Data.Entities;

internal sealed class CorporateActionConfiguration : IEntityTypeConfiguration<CorporateAction>
{
    public void Configure(EntityTypeBuilder<CorporateAction> builder)
    {
        builder.ToTable("corporate_actions", t =>
        {
            t.HasCheckConstraint("ck_corporate_actions_value",
                "(kind = 'split' AND new_shares > 0 AND old_shares > 0 AND amount IS NULL) OR " +
                "(kind = 'dividend' AND amount > 0 AND new_shares IS NULL AND old_shares IS NULL)");
        });
        builder.HasKey(a => a.Id);
        builder.Property(a => a.Id).UseIdentityAlwaysColumn();
        builder.Property(a => a.Kind).HasConversion(k => k == CorporateActionKind.Split ? "split" : "dividend",
            s => s == "split" ? CorporateActionKind.Split : CorporateActionKind.Dividend).HasMaxLength(16);
        builder.Property(a => a.NewShares).HasColumnType("numeric(20,10)");
        builder.Property(a => a.OldShares).HasColumnType("numeric(20,10)");
        builder.Property(a => a.Amount).HasColumnType(AssetPriceConfiguration.PriceType);
        builder.Property(a => a.Source).HasMaxLength(64);
        builder.Property(a => a.CreatedAt).HasDefaultValueSql("now()");
        builder.HasIndex(a => new { a.AssetId, a.Kind, a.EffectiveAt }).IsUnique();
        builder.HasOne(a => a.Asset).WithMany().HasForeignKey(a => a.AssetId).OnDelete(DeleteBehavior.Restrict);
    }
}
