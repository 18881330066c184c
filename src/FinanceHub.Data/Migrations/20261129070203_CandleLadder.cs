using FinanceHub.Data.Migrations.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <summary>
    /// The candle ladder: 4-hour, weekly and monthly candles rolled up from the hourly and daily aggregates (continuous
    /// aggregates on continuous aggregates, or materialized views refreshed with their parent on the Apache edition).
    /// </summary>
    public partial class CandleLadder : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // refresh_materialized_view now refreshes the views that read a view after it (the Apache ladder).
            migrationBuilder.SqlFile("functions/timescale_functions.sql");
            migrationBuilder.SqlFile("0900_candle_ladder/up.sql");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("0900_candle_ladder/down.sql");
        }
    }
}
