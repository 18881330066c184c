using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FinanceHub.Data.Entities;

internal sealed class MaintenancePolicyConfiguration : IEntityTypeConfiguration<MaintenancePolicy>
{
    public void Configure(EntityTypeBuilder<MaintenancePolicy> builder)
    {
        builder.ToTable("maintenance_policies", FinanceHubDbContext.ProjectSchema);
        builder.HasKey(p => p.Name);
        builder.Property(p => p.Name).HasMaxLength(200);
        builder.Property(p => p.Kind).HasConversion<string>().HasMaxLength(16);
        builder.Property(p => p.Target).HasMaxLength(200);
        builder.Property(p => p.LastRunStatus).HasMaxLength(16);
    }
}
