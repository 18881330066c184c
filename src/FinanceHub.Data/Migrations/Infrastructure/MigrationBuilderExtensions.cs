using Microsoft.EntityFrameworkCore.Migrations;

namespace FinanceHub.Data.Migrations.Infrastructure;

/// <summary>Runs files of <c>migrations-sql/</c> from a migration.</summary>
public static class MigrationBuilderExtensions
{
    /// <summary>
    /// Adds the SQL of <c>migrations-sql/{path}</c> as one operation. The project's SQL files are written as statements
    /// that are valid both at top level and inside PL/pgSQL (DDL, <c>DO</c> blocks, <c>CALL</c>), so they also run
    /// inside the <c>DO $EF$</c> guards of <c>dotnet ef migrations script --idempotent</c>.
    /// </summary>
    public static void SqlFile(this MigrationBuilder migrationBuilder, string path, bool suppressTransaction = false)
    {
        ArgumentNullException.ThrowIfNull(migrationBuilder);
        migrationBuilder.Sql(SqlResources.Read(path), suppressTransaction);
    }
}
