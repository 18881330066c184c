using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FinanceHub.Data.Entities;

internal sealed class ArchiveRecordConfiguration : IEntityTypeConfiguration<ArchiveRecord>
{
    public void Configure(EntityTypeBuilder<ArchiveRecord> builder)
    {
        builder.ToTable("archives", FinanceHubDbContext.ProjectSchema);
        builder.HasKey(a => a.Id);
        builder.Property(a => a.TableName).HasMaxLength(200);
        builder.Property(a => a.Status).HasConversion<string>().HasMaxLength(16);
        builder.Property(a => a.ContentChecksum).HasMaxLength(64);
        builder.Property(a => a.FileSha256).HasMaxLength(64);
        builder.Property(a => a.S3Bucket).HasMaxLength(255);
        builder.Property(a => a.S3Key).HasMaxLength(1024);
        builder.Property(a => a.SchemaVersion).HasMaxLength(150);
        // One archive per table and range: the automated archiver's resume point.
        builder.HasIndex(a => new { a.TableName, a.RangeStart, a.RangeEnd }).IsUnique();
    }
}
