using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <inheritdoc />
    public partial class CorporateActions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "corporate_actions",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    asset_id = table.Column<int>(type: "integer", nullable: false),
                    kind = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    effective_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    new_shares = table.Column<decimal>(type: "numeric(20,10)", nullable: true),
                    old_shares = table.Column<decimal>(type: "numeric(20,10)", nullable: true),
                    amount = table.Column<decimal>(type: "numeric(20,8)", nullable: true),
                    source = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_corporate_actions", x => x.id);
                    table.CheckConstraint("ck_corporate_actions_value", "(kind = 'split' AND new_shares > 0 AND old_shares > 0 AND amount IS NULL) OR (kind = 'dividend' AND amount > 0 AND new_shares IS NULL AND old_shares IS NULL)");
                    table.ForeignKey(
                        name: "fk_corporate_actions_assets_asset_id",
                        column: x => x.asset_id,
                        principalTable: "assets",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "ix_corporate_actions_asset_id_kind_effective_at",
                table: "corporate_actions",
                columns: new[] { "asset_id", "kind", "effective_at" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "corporate_actions");
        }
    }
}
