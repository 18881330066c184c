using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FinanceHub.Data.Entities;

internal sealed class PerformanceMetricConfiguration : IEntityTypeConfiguration<PerformanceMetric>
{
    public void Configure(EntityTypeBuilder<PerformanceMetric> builder)
    {
        builder.ToTable(Hypertables.PerformanceMetrics.Table);
        builder.HasKey(m => new { m.CreatedAt, m.Id });
        builder.Property(m => m.Id).UseIdentityAlwaysColumn();
        builder.Property(m => m.MetricName).HasMaxLength(128);
        builder.Property(m => m.Unit).HasMaxLength(16);
        builder.Property(m => m.Service).HasMaxLength(64);
        builder.Property(m => m.Host).HasMaxLength(128);
        builder.HasIndex(m => new { m.MetricName, m.CreatedAt }).IsDescending(false, true);
        builder.HasIndex(m => m.CreatedAt).IsDescending();
    }
}
