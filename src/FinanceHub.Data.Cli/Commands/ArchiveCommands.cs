using System.CommandLine;
using System.Globalization;
using FinanceHub.Data.Archiving;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>archive</c>: a time range to a gzip CSV, or automated archiving of old chunks.</summary>
internal sealed class ArchiveCommand(CliContext context) : ICliCommand
{
    private readonly Argument<string> _table = new("table") { Description = "asset_prices_historic, performance_metrics or api_usage_logs." };
    private readonly Option<string?> _from = new("--from") { Description = "Archive rows from this instant (with --to)." };
    private readonly Option<string?> _to = new("--to") { Description = "Archive rows before this instant (with --from)." };
    private readonly Option<int?> _olderThanDays = new("--older-than-days") { Description = "Automated: archive, verify, upload and drop every whole chunk older than this many days." };
    private readonly Option<string?> _format = new("--format")
    {
        Description = "csv (gzip CSV) or parquet (typed columns under table=/year=/month= folders that DuckDB, Athena, Trino and Spark read in place); default ARCHIVE_FORMAT, else csv.",
    };

    public Command Build()
    {
        var command = new Command("archive",
            "Archive rows to gzip CSV or Parquet (and S3 when ARCHIVE_S3_BUCKET is set). With --older-than-days: archive every old chunk, " +
            "verify it, upload and verify it remotely, and only then drop it; safe to re-run after a failure.")
        {
            _table, _from, _to, _olderThanDays, _format,
        };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var (from, to, days) = (parseResult.GetValue(_from), parseResult.GetValue(_to), parseResult.GetValue(_olderThanDays));
        if (days is null == (from is null || to is null))
        {
            throw new CliUsageException("archive: give either --from and --to (one range) or --older-than-days (automated archiving).");
        }

        var table = parseResult.GetValue(_table)!;
        var format = parseResult.GetValue(_format) is { } text ? ParseFormat(text) : (ArchiveFormat?)null;
        await using var services = CliContext.CreateServices(parseResult,
            configure: s => s.PostConfigure<ArchiveOptions>(o => o.Format = format ?? o.Format));
        var archiver = services.GetRequiredService<IDataArchiver>();
        if (days is { } d)
        {
            var steps = await archiver.RunAutomatedArchiveAsync(table, d, context.ProgressLines<string>(m => $"archiving {m}"), cancellationToken);
            if (CliContext.Json(parseResult))
            {
                await context.WriteJsonAsync(steps);
            }
            else
            {
                var grid = new Table().AddColumns("from", "to", "rows", "outcome", "archive");
                foreach (var s in steps)
                {
                    grid.AddRow(Format.Time(s.RangeStart), Format.Time(s.RangeEnd), s.Rows.ToString("N0", CultureInfo.InvariantCulture), Format.Escape(s.Outcome), s.ArchiveId.ToString());
                }

                context.Console.Write(grid);
                await context.Output.WriteLineAsync($"{steps.Count(s => s.Dropped)} of {steps.Count} range(s) archived and dropped.");
            }

            var options = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ArchiveOptions>>().Value;
            if (!options.S3Enabled && steps.Any(s => s.Dropped))
            {
                await context.Error.WriteLineAsync(
                    $"warning: no S3 bucket is configured (ARCHIVE_S3_BUCKET): the files under {options.BasePath} are the only copy of the rows that were dropped. Back them up, or configure S3.");
            }

            return steps.All(s => s.Dropped) ? ExitCodes.Ok : ExitCodes.Failed;
        }

        var archive = await archiver.ArchiveTableAsync(
            new ArchiveRequest(table, Parsing.Instant(from!, "--from"), Parsing.Instant(to!, "--to"), format),
            context.ProgressLines<long>(n => $"exported {n:N0} rows"), cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(archive);
        }
        else
        {
            await context.Output.WriteLineAsync($"Archived {archive.Manifest.RowCount:N0} rows of {table} to {archive.LocalPath} ({Format.Bytes(archive.Manifest.FileSize)}).");
        }

        return ExitCodes.Ok;
    }

    private static ArchiveFormat ParseFormat(string text)
    {
        try
        {
            return ArchiveFormats.Parse(text, "--format");
        }
        catch (ArgumentException ex)
        {
            throw new CliUsageException("archive: " + ex.Message);
        }
    }
}

/// <summary><c>restore</c>: an archive, or every archive of a table's time range, back into the table.</summary>
internal sealed class RestoreCommand(CliContext context) : ICliCommand
{
    private readonly Argument<string?> _archive = new("archive") { Description = "Path of a local .csv.gz or .parquet archive, or its S3 key (or use --table with --from and --to).", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<string?> _table = new("--table") { Description = "Target table (default: the archive's); with --from/--to, the table whose archives to restore." };
    private readonly Option<string?> _from = new("--from") { Description = "With --table: restore every archive of the table whose range reaches past this instant..." };
    private readonly Option<string?> _to = new("--to") { Description = "...and starts before this one (local files, else their S3 copies)." };

    public Command Build()
    {
        var command = new Command("restore", "Verify archives and load the rows that are not in the table yet (safe to run twice): one archive, or every archive of a time range.")
        {
            _archive, _table, _from, _to,
        };
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var (archive, table, from, to) = (parseResult.GetValue(_archive), parseResult.GetValue(_table), parseResult.GetValue(_from), parseResult.GetValue(_to));
        if (archive is null == (from is null && to is null) || (from is null) != (to is null) || (archive is null && table is null))
        {
            throw new CliUsageException("Give an archive (a path or an S3 key), or --table with --from and --to to restore every archive of that range.");
        }

        await using var services = CliContext.CreateServices(parseResult);
        var archiver = services.GetRequiredService<IDataArchiver>();
        IReadOnlyList<RestoreResult> results = archive is not null
            ? [await archiver.RestoreFromArchiveAsync(archive, table, cancellationToken)]
            : await archiver.RestoreRangeAsync(table!, Parsing.Instant(from!, "--from"), Parsing.Instant(to!, "--to"), cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await (archive is not null ? context.WriteJsonAsync(results[0]) : context.WriteJsonAsync(results));
        }
        else if (results.Count == 0)
        {
            await context.Output.WriteLineAsync($"No archive of {table} covers that range; nothing was restored.");
        }
        else
        {
            foreach (var result in results)
            {
                await context.Output.WriteLineAsync($"Restored {result.RowsRestored:N0} of {result.RowsInArchive:N0} rows of archive {result.ArchiveId} into {result.Table} (the others were already there).");
            }
        }

        foreach (var line in results.SelectMany(r => Format.PendingRefreshes(r.AggregateRefreshes)))
        {
            await context.Error.WriteLineAsync(line);
        }

        return ExitCodes.Ok;
    }
}

/// <summary><c>archives list|cleanup</c>.</summary>
internal sealed class ArchivesCommand(CliContext context) : ICliCommand
{
    private readonly Option<bool> _s3 = new("--s3") { Description = "List the objects in the S3 bucket instead of the local folder." };
    private readonly Option<string?> _olderThan = new("--older-than") { Description = "Delete local archives older than this (e.g. '30 days')." };
    private readonly Option<int?> _keep = new("--keep") { Description = "Keep this many newest local archives." };
    private readonly Option<bool> _force = new("--force") { Description = "Also delete archives that have no verified remote copy." };

    public Command Build()
    {
        var list = new Command("list", "List archives: local (with manifest) or, with --s3, remote.") { _s3 };
        list.SetAction((parseResult, ct) => ListAsync(parseResult, ct));
        var cleanup = new Command("cleanup", "Delete old local archive files; never one without a verified remote copy unless --force.") { _olderThan, _keep, _force };
        cleanup.SetAction((parseResult, ct) => CleanupAsync(parseResult, ct));
        var verify = new Command("verify", "Check every local and remote copy of every archive in the catalog (present, size, SHA-256); exit 1 on any problem.");
        verify.SetAction((parseResult, ct) => VerifyAsync(parseResult, ct));
        return new Command("archives", "List, verify or clean up archives.") { list, verify, cleanup };
    }

    private async Task<int> VerifyAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        await using var services = CliContext.CreateServices(parseResult);
        var checks = await services.GetRequiredService<IDataArchiver>().VerifyArchivesAsync(
            context.ProgressLines<string>(m => $"verifying {m}"), cancellationToken);
        var bad = checks.Count(c => !c.Ok);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(new { checks, failed = bad });
        }
        else
        {
            var grid = new Table().AddColumns("table", "from", "to", "status", "local copy", "remote copy", "archive");
            foreach (var c in checks)
            {
                grid.AddRow(Format.Escape(c.Table), Format.Time(c.RangeStart), Format.Time(c.RangeEnd), c.Status,
                    Format.Escape(c.Local), Format.Escape(c.Remote), c.ArchiveId.ToString());
            }

            context.Console.Write(grid);
            await context.Output.WriteLineAsync($"{checks.Count - bad} of {checks.Count} archive(s) verified.");
        }

        if (bad > 0)
        {
            await context.Error.WriteLineAsync($"financehub-data: error: {bad} archive(s) have a missing or different copy; see the table above");
            return ExitCodes.Failed;
        }

        return ExitCodes.Ok;
    }

    private async Task<int> ListAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        await using var services = CliContext.CreateServices(parseResult);
        var archiver = services.GetRequiredService<IDataArchiver>();
        if (parseResult.GetValue(_s3))
        {
            var objects = await archiver.ListS3ArchivesAsync(cancellationToken: cancellationToken);
            if (CliContext.Json(parseResult))
            {
                await context.WriteJsonAsync(objects);
                return ExitCodes.Ok;
            }

            var grid = new Table().AddColumns("key", "size", "modified");
            foreach (var o in objects)
            {
                grid.AddRow(Format.Escape(o.Key), Format.Bytes(o.Size), Format.Time(o.LastModified));
            }

            context.Console.Write(grid);
            return ExitCodes.Ok;
        }

        var archives = await archiver.ListLocalArchivesAsync(cancellationToken: cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(archives);
            return ExitCodes.Ok;
        }

        var table = new Table().AddColumns("table", "from", "to", "rows", "size", "remote copy", "file");
        foreach (var a in archives)
        {
            table.AddRow(a.Manifest.Table, Format.Time(a.Manifest.RangeStart), Format.Time(a.Manifest.RangeEnd), a.Manifest.RowCount.ToString("N0", CultureInfo.InvariantCulture),
                Format.Bytes(a.Manifest.FileSize), Format.Escape(a.S3Key ?? "none"), Format.Escape(a.LocalPath ?? "(deleted)"));
        }

        context.Console.Write(table);
        return ExitCodes.Ok;
    }

    private async Task<int> CleanupAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var olderThan = parseResult.GetValue(_olderThan) is { } text ? Parsing.Duration(text, "--older-than") : (TimeSpan?)null;
        await using var services = CliContext.CreateServices(parseResult);
        var result = await services.GetRequiredService<IDataArchiver>().CleanupLocalArchivesAsync(olderThan, parseResult.GetValue(_keep), parseResult.GetValue(_force), cancellationToken);
        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(new { deleted = result.Deleted, kept = result.Kept.Select(k => new { path = k.Path, reason = k.Reason }) });
            return ExitCodes.Ok;
        }

        foreach (var path in result.Deleted)
        {
            await context.Output.WriteLineAsync($"deleted {path}");
        }

        foreach (var (path, reason) in result.Kept)
        {
            await context.Output.WriteLineAsync($"kept {path}: {reason}");
        }

        if (result.Deleted.Count == 0 && result.Kept.Count == 0)
        {
            await context.Output.WriteLineAsync("No local archive matched; nothing was deleted.");
        }

        return ExitCodes.Ok;
    }
}
