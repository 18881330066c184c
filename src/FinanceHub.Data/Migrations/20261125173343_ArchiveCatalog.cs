using System;
using FinanceHub.Data.Migrations.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <summary>The archive catalog and the archiver's SQL helpers.</summary>
    public partial class ArchiveCatalog : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "archives",
                schema: "financehub",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    table_name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    range_start = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    range_end = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    row_count = table.Column<long>(type: "bigint", nullable: false),
                    content_checksum = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    file_sha256 = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    file_size = table.Column<long>(type: "bigint", nullable: false),
                    local_path = table.Column<string>(type: "text", nullable: true),
                    s3bucket = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: true),
                    s3key = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: true),
                    schema_version = table.Column<string>(type: "character varying(150)", maxLength: 150, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    verified_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    remote_verified_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    dropped_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    last_error = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_archives", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_archives_table_name_range_start_range_end",
                schema: "financehub",
                table: "archives",
                columns: new[] { "table_name", "range_start", "range_end" },
                unique: true);

            migrationBuilder.SqlFile("0400_archives/up.sql");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("0400_archives/down.sql");

            migrationBuilder.DropTable(
                name: "archives",
                schema: "financehub");
        }
    }
}
