using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FinanceHub.Data.Entities;

internal sealed class ApiUsageLogConfiguration : IEntityTypeConfiguration<ApiUsageLog>
{
    public void Configure(EntityTypeBuilder<ApiUsageLog> builder)
    {
        builder.ToTable(Hypertables.ApiUsageLogs.Table);
        builder.HasKey(l => new { l.CreatedAt, l.Id });
        builder.Property(l => l.Id).UseIdentityAlwaysColumn();
        builder.Property(l => l.Endpoint).HasMaxLength(256);
        builder.Property(l => l.Method).HasMaxLength(10);
        builder.Property(l => l.CallerId).HasMaxLength(128);
        builder.Property(l => l.UserAgent).HasMaxLength(512);
        builder.HasIndex(l => new { l.Endpoint, l.CreatedAt }).IsDescending(false, true);
        builder.HasIndex(l => new { l.CallerId, l.CreatedAt }).IsDescending(false, true);
        builder.HasIndex(l => l.CreatedAt).IsDescending();
    }
}
