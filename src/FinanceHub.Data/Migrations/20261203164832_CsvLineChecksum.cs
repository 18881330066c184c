using FinanceHub.Data.Migrations.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <summary>
    /// The content checksum of gzip CSV archives over their CSV lines (summed by the exporter in the COPY's one scan):
    /// <c>financehub.content_checksum_csv</c>, and the catalog column naming each archive's checksum algorithm.
    /// </summary>
    public partial class CsvLineChecksum : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "content_checksum_algorithm",
                schema: "financehub",
                table: "archives",
                type: "character varying(32)",
                maxLength: 32,
                nullable: true);

            migrationBuilder.SqlFile("1000_csv_line_checksum/up.sql");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("1000_csv_line_checksum/down.sql");

            migrationBuilder.DropColumn(
                name: "content_checksum_algorithm",
                schema: "financehub",
                table: "archives");
        }
    }
}
