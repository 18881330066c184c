using FinanceHub.Data.Migrations.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <summary>TimescaleDB: extension, helper functions, hypertables, compression (community), retention.</summary>
    public partial class TimescaleLayer : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("0100_timescaledb/01_extension.sql");
            migrationBuilder.SqlFile("functions/timescale_functions.sql");
            migrationBuilder.SqlFile("0100_timescaledb/02_hypertables.sql");
            migrationBuilder.SqlFile("0100_timescaledb/03_compression.sql");
            migrationBuilder.SqlFile("0100_timescaledb/04_retention.sql");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("0100_timescaledb/down.sql");
        }
    }
}
