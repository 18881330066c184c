using FinanceHub.Data.Migrations.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <summary>
    /// Community edition: a TimescaleDB job, <c>financehub.complete_owed_refreshes</c> every five minutes, completes the
    /// refreshes that loads recorded as owed (<c>financehub.pending_refreshes</c>, <c>kind = 'rows'</c>) without anyone
    /// running maintain. The procedure commits after each record, as its refreshes require.
    /// </summary>
    public partial class OwedRefreshJob : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("1210_owed_refresh_job/up.sql");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("1210_owed_refresh_job/down.sql");
        }
    }
}
