using System.CommandLine;
using FinanceHub.Data.Configuration;
using FinanceHub.Data.Replicas;
using FinanceHub.Data.Timescale;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Spectre.Console;

namespace FinanceHub.Data.Cli.Commands;

/// <summary><c>status</c>: server, edition, features, migrations, hypertables, jobs, aggregates.</summary>
internal sealed class StatusCommand(CliContext context) : ICliCommand
{
    public Command Build()
    {
        var command = new Command("status", "Show the server, TimescaleDB edition and features, migrations, hypertables, jobs and aggregate freshness.");
        command.SetAction((parseResult, ct) => RunAsync(parseResult, ct));
        return command;
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        await using var services = CliContext.CreateServices(parseResult);
        var manager = services.GetRequiredService<ITimescaleManager>();
        var database = services.GetRequiredService<IOptions<DatabaseOptions>>().Value.Describe();
        var health = await manager.GetHealthAsync(cancellationToken);
        if (!health.Reachable)
        {
            throw new Npgsql.NpgsqlException($"{database}: {health.Error}", new TimeoutException(health.Error));
        }

        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<FinanceHubDbContext>();
        var applied = (await db.Database.GetAppliedMigrationsAsync(cancellationToken)).ToHashSet(StringComparer.Ordinal);
        var migrations = db.Database.GetMigrations().Select(m => new MigrationState(m, applied.Contains(m))).ToList();
        var installed = health.ExtensionInstalled && applied.Count > 0;
        var report = new StatusReport(
            database, health,
            installed ? await manager.GetFeatureSupportAsync(cancellationToken) : [],
            migrations,
            health.ExtensionInstalled ? await manager.GetHypertablesAsync(cancellationToken) : [],
            installed ? await manager.GetJobsAsync(cancellationToken) : [],
            installed ? await manager.GetAggregatesAsync(cancellationToken) : [],
            services.GetRequiredService<ReplicaRouter>() is { Replica: not null } router ? await router.GetStatusAsync(cancellationToken) : null);

        if (CliContext.Json(parseResult))
        {
            await context.WriteJsonAsync(report);
            return ExitCodes.Ok;
        }

        Render(report);
        return ExitCodes.Ok;
    }

    private void Render(StatusReport report)
    {
        var console = context.Console;
        var h = report.Health;
        var summary = new Grid().AddColumn().AddColumn();
        summary.AddRow("Database", Format.Escape(report.Database));
        summary.AddRow("PostgreSQL", Format.Escape(h.ServerVersion));
        summary.AddRow("TimescaleDB", h.ExtensionInstalled
            ? Format.Escape($"{h.ExtensionVersion} ({h.Edition} edition)")
            : Format.Escape($"not installed (available: {h.AvailableVersion ?? "no"})"));
        if (h.ExtensionInstalled)
        {
            summary.AddRow("Server library", Format.Escape(h.UpdateDue
                ? $"{h.AvailableVersion} (newer than this database's extension: ALTER EXTENSION timescaledb UPDATE is due)"
                : $"{h.AvailableVersion} (matches)"));
        }

        summary.AddRow("Background workers", Format.Escape($"{h.RunningBackgroundWorkers} running, {h.MaxBackgroundWorkers?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} max"));
        summary.AddRow("Toolkit", h.ToolkitInstalled ? "installed" : "not installed");
        if (report.ReadEndpoint is { } r)
        {
            summary.AddRow("Read endpoint", Format.Escape(!r.Reachable ? $"{r.Endpoint}: down ({r.Error}); reads go to the primary"
                : !r.InRecovery ? $"{r.Endpoint}: a primary, not a standby (no replay lag)"
                : $"{r.Endpoint}: standby, replay lag {(r.ReplayLag is { } lag ? $"{lag.TotalSeconds:0.###} s" : "unknown")}{(r.ReplayPaused ? ", replay paused" : "")}"));
        }

        var pending = report.Migrations.Count(m => !m.Applied);
        summary.AddRow("Migrations", $"{report.Migrations.Count - pending} applied, {pending} pending");
        console.Write(summary);
        foreach (var advice in h.Advice)
        {
            console.MarkupLine($"[yellow]warning:[/] {Format.Escape(advice)}");
        }

        if (report.Features.Count > 0)
        {
            var features = new Table().Title("Features").AddColumns("feature", "support", "provided by");
            foreach (var f in report.Features)
            {
                features.AddRow(f.Feature, f.Support.ToString().ToLowerInvariant(), Format.Escape(f.Detail));
            }

            console.Write(features);
        }

        if (report.Hypertables.Count > 0)
        {
            var tables = new Table().Title("Hypertables").AddColumns("hypertable", "time column", "chunk interval", "chunks", "compressed", "size", "ratio");
            foreach (var t in report.Hypertables)
            {
                tables.AddRow(Format.Escape(t.Name), Format.Escape(t.TimeColumn), Format.Escape(t.ChunkInterval), t.ChunkCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    t.CompressionEnabled ? t.CompressedChunkCount.ToString(System.Globalization.CultureInfo.InvariantCulture) : "off", Format.Bytes(t.TotalBytes), Format.Ratio(t.CompressionRatio));
            }

            console.Write(tables);
        }

        if (report.Jobs.Count > 0)
        {
            var jobs = new Table().Title("Jobs and maintenance policies").AddColumns("job", "kind", "target", "schedule", "last run", "status", "failures", "last error");
            foreach (var j in report.Jobs)
            {
                jobs.AddRow(Format.Escape(j.Id), Format.Escape(j.Kind) + (j.Native ? "" : " (project)"), Format.Escape(j.Target), Format.Escape(j.Schedule),
                    Format.Time(j.LastRunAt), Format.Escape(j.LastRunStatus), j.TotalFailures.ToString(System.Globalization.CultureInfo.InvariantCulture), Format.Escape(j.LastError));
            }

            console.Write(jobs);
        }

        if (report.Aggregates.Count > 0)
        {
            var aggregates = new Table().Title("Aggregates").AddColumns("view", "kind", "materialized through", "newer rows");
            foreach (var a in report.Aggregates)
            {
                aggregates.AddRow(Format.Escape(a.View), Format.Escape(a.Kind), Format.Time(a.MaterializedThrough),
                    a.RealTime ? "included (real-time)" : "from raw rows (repository)");
            }

            console.Write(aggregates);
        }
    }

    internal sealed record MigrationState(string Migration, bool Applied);

    internal sealed record StatusReport(
        string Database, TimescaleHealth Health, IReadOnlyList<FeatureSupport> Features, IReadOnlyList<MigrationState> Migrations,
        IReadOnlyList<HypertableInfo> Hypertables, IReadOnlyList<JobInfo> Jobs, IReadOnlyList<AggregateInfo> Aggregates, ReplicaStatus? ReadEndpoint);
}
