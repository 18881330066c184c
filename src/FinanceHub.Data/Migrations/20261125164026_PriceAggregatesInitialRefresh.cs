using FinanceHub.Data.Migrations.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <summary>Materializes the aggregates over existing rows; non-transactional (see the SQL file).</summary>
    public partial class PriceAggregatesInitialRefresh : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The helpers it calls (refresh_continuous_aggregate_when_free) as of this release, also where an earlier
            // release applied the migrations before this one and stopped here.
            migrationBuilder.SqlFile("functions/timescale_functions.sql", suppressTransaction: true);
            migrationBuilder.SqlFile("0300_price_aggregates_refresh/up.sql", suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Nothing to undo: the refresh only computed aggregate rows, which PriceAggregates' Down drops with the views.
        }
    }
}
