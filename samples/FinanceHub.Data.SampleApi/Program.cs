using System.Text.Json;
using FinanceHub.Data.Querying;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

var builder = WebApplication.CreateBuilder(args);
// FinanceHub:Database:ConnectionString, or FINANCEHUB_CONNECTION_STRING / TIMESCALE_DB_* in the environment.
builder.Services.AddFinanceHubData(builder.Configuration);
builder.Services.AddHealthChecks().AddFinanceHubData();
builder.Services.AddProblemDetails();

var app = builder.Build();
app.UseExceptionHandler();

// Healthy 200, Degraded 200, Unhealthy 503; the body says why, with every finding.
app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteHealthAsync });

// GET /candles/BTC?from=2026-01-01T00:00:00Z&to=2026-01-08T00:00:00Z&interval=1day&timeZone=UTC
app.MapGet("/candles/{symbol}", async (string symbol, DateTimeOffset from, DateTimeOffset to, string? interval, string? timeZone,
    ITimeSeriesRepository repository, CancellationToken cancellationToken) =>
{
    try
    {
        var result = await repository.GetOhlcvAsync(symbol, interval ?? "1day", from, to, new OhlcvOptions { TimeZone = timeZone ?? "UTC" }, cancellationToken);
        return Results.Ok(result);
    }
    catch (ArgumentException ex)
    {
        return Results.Problem(ex.Message, statusCode: StatusCodes.Status400BadRequest);
    }
});

app.Run();

static Task WriteHealthAsync(HttpContext context, HealthReport report)
{
    context.Response.ContentType = "application/json";
    return context.Response.WriteAsync(JsonSerializer.Serialize(new
    {
        status = report.Status.ToString(),
        checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description, data = e.Value.Data }),
    }));
}
