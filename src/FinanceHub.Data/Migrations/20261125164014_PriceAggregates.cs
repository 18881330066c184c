using FinanceHub.Data.Migrations.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <summary>OHLCV aggregates <c>asset_prices_hourly</c> and <c>asset_prices_daily</c> with their refresh.</summary>
    public partial class PriceAggregates : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("0200_price_aggregates/up.sql");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("0200_price_aggregates/down.sql");
        }
    }
}
