using FinanceHub.Data.Migrations.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <summary>Materializes the candle ladder's continuous aggregates over what exists (community edition; not transactional).</summary>
    public partial class CandleLadderInitialRefresh : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The helpers it calls (refresh_continuous_aggregate_when_free) as of this release, also where an earlier
            // release applied the migrations before this one and stopped here.
            migrationBuilder.SqlFile("functions/timescale_functions.sql", suppressTransaction: true);
            migrationBuilder.SqlFile("0910_candle_ladder_refresh/up.sql", suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
        }
    }
}
