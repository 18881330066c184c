using FinanceHub.Data.Migrations.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <summary>
    /// Loads owe their aggregate refresh durably: <c>financehub.pending_refreshes</c> records, in a load's own transaction,
    /// the time span of the rows it wrote (<c>kind = 'rows'</c>), until the refresh they need is done. And
    /// <c>financehub.loads</c> records each load that committed, by its key, so that running the same load again is safe.
    /// </summary>
    public partial class LoadLedger : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("1200_load_ledger/up.sql");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.SqlFile("1200_load_ledger/down.sql");
        }
    }
}
