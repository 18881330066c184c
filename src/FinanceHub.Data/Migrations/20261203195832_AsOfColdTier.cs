using System;
using FinanceHub.Data.Migrations.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <summary>
    /// As-of prices meet the cold tier: an answer that rows archived and dropped after it could supersede says so
    /// (<c>archived_from</c>, <c>archived_to</c>, <c>archive_ids</c>) instead of returning an older price.
    /// <c>financehub.cold_ranges</c> is the test of "archived, dropped and not all back" that candle reads use too, and
    /// <c>financehub.archives.restored_at</c> records each restore of an archive into its table.
    /// </summary>
    public partial class AsOfColdTier : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "restored_at",
                schema: "financehub",
                table: "archives",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.SqlFile("1100_as_of_cold_tier/up.sql");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("1100_as_of_cold_tier/down.sql");
            migrationBuilder.SqlFile("0800_prices_as_of/up.sql");

            migrationBuilder.DropColumn(
                name: "restored_at",
                schema: "financehub",
                table: "archives");
        }
    }
}
