using FinanceHub.Data.Migrations.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <summary>Any number of archives per table and range (late rows are archived as further archives of a range).</summary>
    public partial class ArchivesPerRange : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_archives_table_name_range_start_range_end",
                schema: "financehub",
                table: "archives");

            migrationBuilder.CreateIndex(
                name: "ix_archives_table_name_range_start_range_end",
                schema: "financehub",
                table: "archives",
                columns: new[] { "table_name", "range_start", "range_end" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("0500_archives_per_range/down.sql");

            migrationBuilder.DropIndex(
                name: "ix_archives_table_name_range_start_range_end",
                schema: "financehub",
                table: "archives");

            migrationBuilder.CreateIndex(
                name: "ix_archives_table_name_range_start_range_end",
                schema: "financehub",
                table: "archives",
                columns: new[] { "table_name", "range_start", "range_end" },
                unique: true);
        }
    }
}
