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
        builder.Property(a => a.ContentChecksumAlgorithm).HasMaxLength(32);
        builder.Property(a => a.FileSha256).HasMaxLength(64);
        builder.Property(a => a.S3Bucket).HasMaxLength(255);
        builder.Property(a => a.S3Key).HasMaxLength(1024);
        builder.Property(a => a.SchemaVersion).HasMaxLength(150);
        // Any number of archives per table and range: rows written late into a range that was archived and dropped
        // are archived as a further archive of it. The index finds them all (restore of a range, the archiver's resume point).
        builder.HasIndex(a => new { a.TableName, a.RangeStart, a.RangeEnd });
    }
}
