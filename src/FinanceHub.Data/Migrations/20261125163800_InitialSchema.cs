using System;
using System.Net;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace FinanceHub.Data.Migrations
{
    /// <inheritdoc />
    public partial class InitialSchema : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.EnsureSchema(
                name: "financehub");

            migrationBuilder.CreateTable(
                name: "api_usage_logs",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    endpoint = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    method = table.Column<string>(type: "character varying(10)", maxLength: 10, nullable: false),
                    status_code = table.Column<short>(type: "smallint", nullable: false),
                    duration_ms = table.Column<double>(type: "double precision", nullable: false),
                    caller_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    client_ip = table.Column<IPAddress>(type: "inet", nullable: true),
                    user_agent = table.Column<string>(type: "character varying(512)", maxLength: 512, nullable: true),
                    request_bytes = table.Column<long>(type: "bigint", nullable: true),
                    response_bytes = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_api_usage_logs", x => new { x.created_at, x.id });
                });

            migrationBuilder.CreateTable(
                name: "assets",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    symbol = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    asset_type = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    exchange = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    quote_currency = table.Column<string>(type: "character(3)", fixedLength: true, maxLength: 3, nullable: false),
                    is_active = table.Column<bool>(type: "boolean", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_assets", x => x.id);
                    table.CheckConstraint("ck_assets_symbol_upper", "symbol = upper(symbol) AND symbol <> ''");
                });

            migrationBuilder.CreateTable(
                name: "maintenance_policies",
                schema: "financehub",
                columns: table => new
                {
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    kind = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    target = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    drop_after = table.Column<TimeSpan>(type: "interval", nullable: true),
                    schedule_interval = table.Column<TimeSpan>(type: "interval", nullable: false),
                    enabled = table.Column<bool>(type: "boolean", nullable: false),
                    next_run_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    last_run_started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    last_run_finished_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    last_run_status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: true),
                    last_error = table.Column<string>(type: "text", nullable: true),
                    materialized_through = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_maintenance_policies", x => x.name);
                });

            migrationBuilder.CreateTable(
                name: "performance_metrics",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    metric_name = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    value = table.Column<double>(type: "double precision", nullable: false),
                    unit = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: true),
                    service = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    host = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    asset_id = table.Column<int>(type: "integer", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_performance_metrics", x => new { x.created_at, x.id });
                });

            migrationBuilder.CreateTable(
                name: "asset_prices_historic",
                columns: table => new
                {
                    asset_id = table.Column<int>(type: "integer", nullable: false),
                    date = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    open = table.Column<decimal>(type: "numeric(20,8)", nullable: false),
                    high = table.Column<decimal>(type: "numeric(20,8)", nullable: false),
                    low = table.Column<decimal>(type: "numeric(20,8)", nullable: false),
                    close = table.Column<decimal>(type: "numeric(20,8)", nullable: false),
                    adjusted_close = table.Column<decimal>(type: "numeric(20,8)", nullable: true),
                    volume = table.Column<decimal>(type: "numeric(28,8)", nullable: false),
                    trade_count = table.Column<int>(type: "integer", nullable: true),
                    source = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_asset_prices_historic", x => new { x.asset_id, x.date });
                    table.CheckConstraint("ck_asset_prices_historic_high_low", "high >= low");
                    table.CheckConstraint("ck_asset_prices_historic_volume", "volume >= 0");
                    table.ForeignKey(
                        name: "fk_asset_prices_historic_assets_asset_id",
                        column: x => x.asset_id,
                        principalTable: "assets",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "ix_api_usage_logs_caller_id_created_at",
                table: "api_usage_logs",
                columns: new[] { "caller_id", "created_at" },
                descending: new[] { false, true });

            migrationBuilder.CreateIndex(
                name: "ix_api_usage_logs_created_at",
                table: "api_usage_logs",
                column: "created_at",
                descending: new bool[0]);

            migrationBuilder.CreateIndex(
                name: "ix_api_usage_logs_endpoint_created_at",
                table: "api_usage_logs",
                columns: new[] { "endpoint", "created_at" },
                descending: new[] { false, true });

            migrationBuilder.CreateIndex(
                name: "ix_asset_prices_historic_date",
                table: "asset_prices_historic",
                column: "date",
                descending: new bool[0]);

            migrationBuilder.CreateIndex(
                name: "ix_assets_symbol",
                table: "assets",
                column: "symbol",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_performance_metrics_created_at",
                table: "performance_metrics",
                column: "created_at",
                descending: new bool[0]);

            migrationBuilder.CreateIndex(
                name: "ix_performance_metrics_metric_name_created_at",
                table: "performance_metrics",
                columns: new[] { "metric_name", "created_at" },
                descending: new[] { false, true });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "api_usage_logs");

            migrationBuilder.DropTable(
                name: "asset_prices_historic");

            migrationBuilder.DropTable(
                name: "maintenance_policies",
                schema: "financehub");

            migrationBuilder.DropTable(
                name: "performance_metrics");

            migrationBuilder.DropTable(
                name: "assets");

            migrationBuilder.DropSchema(
                name: "financehub");
        }
    }
}
